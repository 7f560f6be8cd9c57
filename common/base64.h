#pragma once

// Base64 (RFC 4648, with padding) as Kubernetes uses it: kubeconfig `*-data` fields and Secret
// `data` values. OpenSSL's EVP block functions do the work.

#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane {

std::string base64Encode(std::string_view data);
// Line breaks and spaces (a wrapped PEM-style block) are ignored; anything else that is not
// base64 is an error.
Result<std::string> base64Decode(std::string_view text);

}  // namespace siteplane
