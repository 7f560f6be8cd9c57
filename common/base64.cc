#include "common/base64.h"

#include <openssl/evp.h>

namespace siteplane {

std::string base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(data.data()),
                               static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

Result<std::string> base64Decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') compact.push_back(c);
  }
  if (compact.size() % 4 != 0) return Status::error("not valid base64");
  std::string out(compact.size() / 4 * 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(compact.data()),
                               static_cast<int>(compact.size()));
  if (length < 0) return Status::error("not valid base64");
  // EVP_DecodeBlock counts the padding as zero bytes of output.
  size_t padding = 0;
  while (padding < 2 && compact.size() > padding && compact[compact.size() - 1 - padding] == '=')
    ++padding;
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

}  // namespace siteplane
