#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

PortBlocker::PortBlocker(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd_, 1) != 0)
    throw std::runtime_error("cannot occupy 127.0.0.1:" + std::to_string(port));
}

PortBlocker::~PortBlocker() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace siteplane::testing
