#include "controller/certs/openssl_util.h"

#include <openssl/err.h>

#include <ctime>
#include <limits>

namespace siteplane::certs::detail {

std::string drainErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) out += "; ";
    out += reason ? reason : ("OpenSSL error " + std::to_string(code));
  }
  return out;
}

Status failure(const std::string& what) {
  std::string reasons = drainErrors();
  return Status::error(reasons.empty() ? what : what + ": " + reasons);
}

BioPtr readBio(std::string_view data) {
  // BIO_new_mem_buf takes an int length; anything larger is not a certificate or key anyway.
  int size = data.size() > static_cast<size_t>(std::numeric_limits<int>::max())
                 ? std::numeric_limits<int>::max()
                 : static_cast<int>(data.size());
  return BioPtr(BIO_new_mem_buf(data.data(), size));
}

BioPtr writeBio() { return BioPtr(BIO_new(BIO_s_mem())); }

std::string bioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::string toHex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time) {
  std::tm parts{};
  if (!time || ASN1_TIME_to_tm(time, &parts) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

time_t toTimeT(std::chrono::system_clock::time_point time) {
  return static_cast<time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count());
}

const EVP_MD* signingDigest(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
      return nullptr;
    case EVP_PKEY_EC:
      return EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
    default:
      return EVP_sha256();
  }
}

}  // namespace siteplane::certs::detail
