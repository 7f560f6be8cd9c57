#pragma once

#include <string>

namespace siteplane::testing {

// The SHA-1 thumbprint (upper-case hex, as status.thumbprint) of the leaf certificate served for
// `sni` on 127.0.0.1:port; "" when nothing answers or the handshake fails. Does not verify the
// chain: the tests compare certificates, not trust.
std::string servedThumbprint(int port, const std::string& sni);

}  // namespace siteplane::testing
