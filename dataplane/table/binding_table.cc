#include "dataplane/table/binding_table.h"

#include <algorithm>
#include <functional>

#include "common/ascii.h"

namespace siteplane::table {
namespace {

std::string describe(const ListenerKey& key) {
  bool ipv6 = key.address.find(':') != std::string::npos;
  return (ipv6 ? "[" + key.address + "]" : key.address) + ":" + std::to_string(key.port);
}

}  // namespace

std::string hostKey(std::string_view host) {
  // A trailing dot names the same host ("www.contoso.com." == "www.contoso.com").
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return toLowerAscii(host);
}

const char* toString(Protocol protocol) { return protocol == Protocol::kHttps ? "https" : "http"; }

const char* toString(ClientCertificateMode mode) {
  switch (mode) {
    case ClientCertificateMode::kAccept:
      return "Accept";
    case ClientCertificateMode::kRequire:
      return "Require";
    case ClientCertificateMode::kIgnore:
      break;
  }
  return "Ignore";
}

const char* toString(TlsVersion version) { return version == TlsVersion::k1_3 ? "1.3" : "1.2"; }

size_t ListenerKeyHash::operator()(const ListenerKey& key) const noexcept {
  return std::hash<std::string>()(key.address) * 31 + key.port;
}

const Route* Listener::findHost(std::string_view host) const {
  std::string name = hostKey(host);
  if (!name.empty()) {
    if (auto exact = exactHosts_.find(name); exact != exactHosts_.end()) return exact->second;
    // "*.contoso.com" covers exactly one label in front of "contoso.com", as in RFC 6125.
    if (auto dot = name.find('.'); dot != std::string::npos) {
      if (auto wild = wildcardHosts_.find(name.substr(dot + 1)); wild != wildcardHosts_.end())
        return wild->second;
    }
  }
  return defaultRoute_;
}

Status BindingTable::Builder::add(Entry entry) {
  const bool https = entry.protocol == Protocol::kHttps;
  if (https && !entry.route.tls)
    return Status::error("binding " + entry.route.binding + ": https needs a TLS context");
  if (!https && entry.route.tls)
    return Status::error("binding " + entry.route.binding + ": http cannot carry a TLS context");
  if (!entry.route.site) return Status::error("binding " + entry.route.binding + ": no site");
  entry.route.hostName = hostKey(entry.route.hostName);
  auto [claim, isNewListener] = claims_.try_emplace(entry.listener, Claim{entry.protocol, {}});
  if (!isNewListener) {
    const Claim& existing = claim->second;
    if (existing.protocol != entry.protocol) {
      const auto& holder = entries_[existing.hosts.begin()->second];
      return Status::error("binding " + entry.route.binding + ": " + describe(entry.listener) +
                           " is already " + toString(existing.protocol) + " (binding " +
                           holder.route.binding + ")");
    }
    if (auto taken = existing.hosts.find(entry.route.hostName); taken != existing.hosts.end())
      return Status::error("binding " + entry.route.binding + ": host '" + entry.route.hostName +
                           "' on " + describe(entry.listener) + " is already bound by " +
                           entries_[taken->second].route.binding);
  }
  claim->second.hosts.emplace(entry.route.hostName, entries_.size());
  entries_.push_back(std::move(entry));
  return Status::ok();
}

std::shared_ptr<const BindingTable> BindingTable::Builder::build() && {
  // Index here so that the data plane's per-request lookups are hash lookups regardless of the
  // number of bindings.
  std::shared_ptr<BindingTable> table(new BindingTable());
  table->generation_ = generation_;
  table->bindingCount_ = entries_.size();
  std::unordered_map<ListenerKey, Listener*, ListenerKeyHash> building;
  for (auto& entry : entries_) {
    auto [it, inserted] = building.try_emplace(entry.listener, nullptr);
    if (inserted) {
      table->listeners_.push_back(std::make_unique<Listener>());
      it->second = table->listeners_.back().get();
      it->second->key_ = entry.listener;
      it->second->protocol_ = entry.protocol;
    }
    it->second->routes_.push_back(std::move(entry.route));
  }
  // Maps point into routes_, which no longer grows.
  for (auto& listener : table->listeners_) {
    for (const Route& route : listener->routes_) {
      const std::string& host = route.hostName;
      if (host.empty()) {
        listener->defaultRoute_ = &route;
      } else if (host.starts_with("*.")) {
        listener->wildcardHosts_.emplace(host.substr(2), &route);
      } else {
        listener->exactHosts_.emplace(host, &route);
      }
    }
    table->byKey_.emplace(listener->key_, listener.get());
  }
  return table;
}

const Listener* BindingTable::findListener(const ListenerKey& key) const {
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : it->second;
}

const Listener* BindingTable::listenerFor(std::string_view localAddress, uint16_t port) const {
  if (auto exact = findListener({std::string(localAddress), port})) return exact;
  return findListener({"*", port});
}

const Route* BindingTable::route(std::string_view localAddress, uint16_t port,
                                 std::string_view host) const {
  if (auto exact = findListener({std::string(localAddress), port})) {
    if (auto found = exact->findHost(host)) return found;
  }
  if (auto any = findListener({"*", port})) return any->findHost(host);
  return nullptr;
}

const Route* BindingTable::handshakeRoute(std::string_view localAddress, uint16_t port,
                                          std::string_view serverName) const {
  const Route* found = route(localAddress, port, serverName);
  return found && found->tls ? found : nullptr;
}

}  // namespace siteplane::table
