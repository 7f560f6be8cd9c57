#pragma once

// DNS dynamic updates (RFC 2136) signed with TSIG (RFC 8945), for the dns-01 solver: the TXT
// record _acme-challenge.<name> is added before the CA validates and removed afterwards. libldns
// builds, signs and sends the messages; the zone is found by its SOA (asking the same server).
// Blocking, meant for reconcile worker threads.

#include <string>

#include "common/status.h"

namespace siteplane::acme {

struct Rfc2136Server {
  std::string nameserver;  // "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53"
  std::string tsigKeyName;
  // HMACMD5, HMACSHA1, HMACSHA256 (default) or HMACSHA512, as cert-manager spells them.
  std::string tsigAlgorithm = "HMACSHA256";
  std::string tsigSecret;  // base64, as tsig-keygen prints it; never logged
};

// Whether `algorithm` is one of the names above.
bool isTsigAlgorithm(const std::string& algorithm);

// Adds the TXT record `fqdn` (absolute, "_acme-challenge.www.example.com.") = `value` with
// `ttl`, beside any other values of that name. Errors name the server and the DNS rcode.
Status addTxtRecord(const Rfc2136Server& server, const std::string& fqdn, const std::string& value,
                    int ttl = 60);
// Removes exactly that value; absent already is fine.
Status removeTxtRecord(const Rfc2136Server& server, const std::string& fqdn,
                       const std::string& value);

}  // namespace siteplane::acme
