#include "dataplane/loop/listener_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace siteplane::loop {
namespace {

constexpr int kBacklog = 1024;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;
};

Result<std::vector<Address>> resolve(const table::ListenerKey& key) {
  std::vector<Address> out;
  auto add = [&](const std::string& ip) -> bool {
    Address address;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(key.port);
      address.length = sizeof(sockaddr_in);
      address.text = ip + ":" + std::to_string(key.port);
    } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(key.port);
      address.length = sizeof(sockaddr_in6);
      address.text = "[" + ip + "]:" + std::to_string(key.port);
    } else {
      return false;
    }
    out.push_back(std::move(address));
    return true;
  };
  if (key.address == "*") {
    add("0.0.0.0");
    add("::");
  } else if (!add(key.address)) {
    return Result<std::vector<Address>>::error(key.address + ":" + std::to_string(key.port) +
                                               ": not an IP address");
  }
  return out;
}

std::string lowerError(int error) {
  std::string text = std::strerror(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// One listening socket, or -errno.
int openOne(const Address& address) {
  int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    int error = errno;
    ::close(fd);
    return -error;
  }
  if (address.storage.ss_family == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 ||
      ::listen(fd, kBacklog) != 0) {
    int error = errno;
    ::close(fd);
    return -error;
  }
  return fd;
}

}  // namespace

Result<ListenerSockets> ListenerSockets::open(const table::ListenerKey& key, unsigned workers) {
  auto addresses = resolve(key);
  if (!addresses) return addresses.status();
  ListenerSockets sockets;
  sockets.perWorker_.resize(workers);
  for (const auto& address : *addresses) {
    bool bound = false;
    for (unsigned worker = 0; worker < workers; ++worker) {
      int fd = openOne(address);
      if (fd == -EAFNOSUPPORT && key.address == "*" && address.storage.ss_family == AF_INET6) {
        break;  // a host without IPv6 still serves "*" on IPv4
      }
      if (fd < 0) return Result<ListenerSockets>::error(address.text + ": " + lowerError(-fd));
      sockets.perWorker_[worker].push_back(fd);
      bound = true;
    }
    if (bound) sockets.boundAddresses_.push_back(address.text);
  }
  return sockets;
}

ListenerSockets::ListenerSockets(ListenerSockets&& other) noexcept
    : boundAddresses_(std::move(other.boundAddresses_)), perWorker_(std::move(other.perWorker_)) {
  other.perWorker_.clear();
}

ListenerSockets& ListenerSockets::operator=(ListenerSockets&& other) noexcept {
  if (this != &other) {
    for (auto& fds : perWorker_)
      for (int fd : fds) ::close(fd);
    boundAddresses_ = std::move(other.boundAddresses_);
    perWorker_ = std::move(other.perWorker_);
    other.perWorker_.clear();
  }
  return *this;
}

ListenerSockets::~ListenerSockets() {
  for (auto& fds : perWorker_)
    for (int fd : fds) ::close(fd);
}

std::vector<int> ListenerSockets::take(unsigned worker) {
  if (worker >= perWorker_.size()) return {};
  return std::exchange(perWorker_[worker], {});
}

}  // namespace siteplane::loop
