#include "controller/acme/rfc2136.h"

#include <fmt/format.h>
#include <ldns/ldns.h>

#include <memory>

namespace siteplane::acme {
namespace {

struct LdnsFree {
  void operator()(ldns_resolver* resolver) const { ldns_resolver_deep_free(resolver); }
  void operator()(ldns_pkt* packet) const { ldns_pkt_free(packet); }
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
  void operator()(ldns_rr_list* list) const { ldns_rr_list_deep_free(list); }
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
template <typename T>
using LdnsPtr = std::unique_ptr<T, LdnsFree>;

// ldns spells the algorithms as DNS names.
std::string ldnsAlgorithm(const std::string& algorithm) {
  if (algorithm == "HMACMD5") return "hmac-md5.sig-alg.reg.int.";
  if (algorithm == "HMACSHA1") return "hmac-sha1.";
  if (algorithm == "HMACSHA512") return "hmac-sha512.";
  return "hmac-sha256.";
}

// "host", "host:port" or "[v6]:port" -> (address, port).
Status splitNameserver(const std::string& nameserver, std::string& address, uint16_t& port) {
  port = 53;
  address = nameserver;
  std::string portText;
  if (!nameserver.empty() && nameserver.front() == '[') {
    const size_t close = nameserver.find(']');
    if (close == std::string::npos) return Status::error("nameserver: unclosed [");
    address = nameserver.substr(1, close - 1);
    if (close + 1 < nameserver.size() && nameserver[close + 1] == ':')
      portText = nameserver.substr(close + 2);
  } else if (nameserver.find(':') != std::string::npos &&
             nameserver.find(':') == nameserver.rfind(':')) {
    address = nameserver.substr(0, nameserver.find(':'));
    portText = nameserver.substr(nameserver.find(':') + 1);
  }
  if (!portText.empty()) {
    if (portText.size() > 5 || portText.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(portText) == 0 || std::stoi(portText) > 65535)
      return Status::error("nameserver: invalid port \"" + portText + "\"");
    port = static_cast<uint16_t>(std::stoi(portText));
  }
  return Status::ok();
}

Result<LdnsPtr<ldns_resolver>> resolverFor(const Rfc2136Server& server) {
  std::string address;
  uint16_t port = 53;
  if (Status split = splitNameserver(server.nameserver, address, port); !split) return split;
  LdnsPtr<ldns_rdf> rdf(ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, address.c_str()));
  if (!rdf) rdf.reset(ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, address.c_str()));
  if (!rdf)
    return Status::error("nameserver \"" + server.nameserver + "\" is not an IP address[:port]");
  LdnsPtr<ldns_resolver> resolver(ldns_resolver_new());
  if (!resolver || ldns_resolver_push_nameserver(resolver.get(), rdf.get()) != LDNS_STATUS_OK)
    return Status::error("cannot set up a DNS resolver");
  ldns_resolver_set_port(resolver.get(), port);
  ldns_resolver_set_recursive(resolver.get(), false);
  ldns_resolver_set_timeout(resolver.get(), timeval{5, 0});
  ldns_resolver_set_retry(resolver.get(), 2);
  if (!server.tsigKeyName.empty()) {
    ldns_resolver_set_tsig_keyname(resolver.get(), server.tsigKeyName.c_str());
    ldns_resolver_set_tsig_algorithm(resolver.get(), ldnsAlgorithm(server.tsigAlgorithm).c_str());
    ldns_resolver_set_tsig_keydata(resolver.get(), server.tsigSecret.c_str());
  }
  return resolver;
}

std::string rcodeName(ldns_pkt_rcode rcode) {
  const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, static_cast<int>(rcode));
  return entry ? entry->name : std::to_string(static_cast<int>(rcode));
}

// One UPDATE holding `record` (class IN to add, NONE to delete that value).
Status update(const Rfc2136Server& server, const std::string& fqdn, const std::string& value,
              int ttl, bool remove) {
  const std::string what = fmt::format("DNS update of {} TXT at {}", fqdn, server.nameserver);
  if (value.find_first_of("\"\\; \t\n") != std::string::npos)
    return Status::error(what + ": the value has characters a TXT record cannot hold as is");
  auto resolver = resolverFor(server);
  if (!resolver) return std::move(resolver).status().withContext(what);
  ldns_rdf* zoneRaw = nullptr;
  ldns_rdf* primaryRaw = nullptr;
  ldns_status found = ldns_update_soa_zone_mname(fqdn.c_str(), resolver->get(), LDNS_RR_CLASS_IN,
                                                 &zoneRaw, &primaryRaw);
  LdnsPtr<ldns_rdf> zone(zoneRaw), primary(primaryRaw);
  if (found != LDNS_STATUS_OK || !zone)
    return Status::error(
        ErrorCode::kUnavailable,
        fmt::format("{}: no zone found for the name ({})", what, ldns_get_errorstr_by_id(found)));
  ldns_rr* raw = nullptr;
  const std::string text = fmt::format("{} {} IN TXT \"{}\"", fqdn, remove ? 0 : ttl, value);
  if (ldns_rr_new_frm_str(&raw, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
    return Status::error(what + ": cannot build the record");
  LdnsPtr<ldns_rr> record(raw);
  if (remove) ldns_rr_set_class(record.get(), LDNS_RR_CLASS_NONE);  // RFC 2136 §2.5.4
  LdnsPtr<ldns_rr_list> updates(ldns_rr_list_new());
  if (!updates || !ldns_rr_list_push_rr(updates.get(), record.get()))
    return Status::error(what + ": out of memory");
  record.release();  // the list owns it
  LdnsPtr<ldns_pkt> packet(
      ldns_update_pkt_new(zone.release(), LDNS_RR_CLASS_IN, nullptr, updates.get(), nullptr));
  if (!packet) return Status::error(what + ": cannot build the update");
  ldns_pkt_set_random_id(packet.get());
  if (!server.tsigKeyName.empty() &&
      ldns_update_pkt_tsig_add(packet.get(), resolver->get()) != LDNS_STATUS_OK)
    return Status::error(what + ": cannot sign with the TSIG key " + server.tsigKeyName);
  ldns_pkt* answerRaw = nullptr;
  ldns_status sent = ldns_resolver_send_pkt(&answerRaw, resolver->get(), packet.get());
  LdnsPtr<ldns_pkt> answer(answerRaw);
  if (sent != LDNS_STATUS_OK || !answer)
    return Status::error(ErrorCode::kUnavailable,
                         fmt::format("{}: {}", what, ldns_get_errorstr_by_id(sent)));
  if (ldns_pkt_get_rcode(answer.get()) != LDNS_RCODE_NOERROR)
    return Status::error(fmt::format("{}: the server answered {}", what,
                                     rcodeName(ldns_pkt_get_rcode(answer.get()))));
  return Status::ok();
}

}  // namespace

bool isTsigAlgorithm(const std::string& algorithm) {
  return algorithm == "HMACMD5" || algorithm == "HMACSHA1" || algorithm == "HMACSHA256" ||
         algorithm == "HMACSHA512";
}

Status addTxtRecord(const Rfc2136Server& server, const std::string& fqdn, const std::string& value,
                    int ttl) {
  return update(server, fqdn, value, ttl, /*remove=*/false);
}

Status removeTxtRecord(const Rfc2136Server& server, const std::string& fqdn,
                       const std::string& value) {
  return update(server, fqdn, value, 0, /*remove=*/true);
}

}  // namespace siteplane::acme
