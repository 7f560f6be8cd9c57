#pragma once

// The one contract between the controller and the data plane: an immutable snapshot of everything
// the data plane serves. The controller builds a complete table (TLS contexts included) and
// publishes it as std::shared_ptr<const BindingTable>; workers only read it. A published table is
// never mutated, so it needs no locks; old tables die with their last reference.
//
// Keyed like HTTP.sys: (IP, port) -> host name -> (TLS context, site policy).
//   - exact IP before "*";
//   - exact host before "*.wildcard" before the empty host (the listener's default binding, which
//     for https is also the certificate for clients that send no SNI or an unknown name).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace siteplane::tls {
class ServerContext;
}

namespace siteplane::table {

enum class Protocol { kHttp, kHttps };
enum class ClientCertificateMode { kIgnore, kAccept, kRequire };
enum class TlsVersion { k1_2, k1_3 };

const char* toString(Protocol protocol);
const char* toString(
    ClientCertificateMode mode);           // "Ignore", "Accept", "Require" (the spec's words)
const char* toString(TlsVersion version);  // "1.2", "1.3"

// What the data plane needs of a Site (IIS <access sslFlags> and the content). Shared by every
// binding of the site.
struct SitePolicy {
  std::string name;  // "namespace/name", for logs and the access log's site field
  int64_t siteId = 0;
  std::filesystem::path root;  // absolute directory of static files
  std::string upstream;        // http://host:port when the site is a reverse proxy (root is empty)
  bool requireSSL = false;     // Ssl: plain-http requests get 403.4 ...
  bool redirectHTTP = false;   // ... or a 301 to https when this is set
  bool require128BitCiphers = false;  // Ssl128
  ClientCertificateMode clientCertificate =
      ClientCertificateMode::kIgnore;  // SslNegotiateCert/SslRequireCert
  TlsVersion minTLSVersion = TlsVersion::k1_2;
  uint16_t httpsRedirectPort = 443;  // where redirectHTTP sends clients (the site's https binding)
};

// Where a request or a handshake lands: one Binding.
struct Route {
  std::string binding;  // "namespace/name" of the Binding
  int64_t bindingGeneration = 0;
  std::string hostName;  // as declared: "www.contoso.com", "*.contoso.com" or "" (any)
  std::shared_ptr<const SitePolicy> site;
  std::shared_ptr<const tls::ServerContext> tls;  // null for http
};

// How host names are compared (SNI, Host, hostName, ACME challenge names): lower case, without
// a trailing dot.
std::string hostKey(std::string_view host);

// A socket the data plane listens on. address is a normalized IP literal ("127.0.0.1", "::1") or
// "*" for all addresses (the data plane binds 0.0.0.0 and :: for it).
struct ListenerKey {
  std::string address;
  uint16_t port = 0;
  bool operator==(const ListenerKey&) const = default;
};

struct ListenerKeyHash {
  size_t operator()(const ListenerKey& key) const noexcept;
};

class Listener {
 public:
  const ListenerKey& key() const { return key_; }
  Protocol protocol() const { return protocol_; }

  // The route for a host name (SNI or Host header, any case, without port): exact match, then the
  // longest matching "*.suffix" wildcard (one label, as in TLS), then the default route.
  // Returns nullptr when nothing accepts the name.
  const Route* findHost(std::string_view host) const;
  // The binding with no hostName, if any.
  const Route* defaultRoute() const { return defaultRoute_; }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  friend class BindingTable;
  ListenerKey key_;
  Protocol protocol_ = Protocol::kHttp;
  std::vector<Route> routes_;  // owns the routes; the maps below point into it
  std::unordered_map<std::string, const Route*> exactHosts_;     // lower-case host
  std::unordered_map<std::string, const Route*> wildcardHosts_;  // lower-case suffix after "*."
  const Route* defaultRoute_ = nullptr;
};

class BindingTable {
 public:
  // Everything a Builder needs for one binding.
  struct Entry {
    ListenerKey listener;
    Protocol protocol = Protocol::kHttp;
    Route route;
  };

  // Collects entries, then build() indexes them. add() refuses what cannot be served together —
  // the controller resolves conflicts first and reports them on the Binding, so a refusal here is
  // a controller bug surfaced as an error rather than a crash.
  class Builder {
   public:
    explicit Builder(uint64_t generation) : generation_(generation) {}
    // Errors: same listener with a different protocol; same listener + host name twice; https
    // without a TLS context; http with one.
    Status add(Entry entry);
    std::shared_ptr<const BindingTable> build() &&;

   private:
    struct Claim {
      Protocol protocol;
      // host name -> index into entries_, to name the binding that already holds it
      std::unordered_map<std::string, size_t> hosts;
    };
    uint64_t generation_;
    std::vector<Entry> entries_;
    // What each listener already carries, so add() stays O(1) at 10,000 bindings.
    std::unordered_map<ListenerKey, Claim, ListenerKeyHash> claims_;
  };

  // Monotonic across publishes; lets status say which table a binding is live in.
  uint64_t generation() const { return generation_; }
  const std::vector<std::unique_ptr<Listener>>& listeners() const { return listeners_; }
  const Listener* findListener(const ListenerKey& key) const;

  // The route for a connection that arrived on localAddress:port asking for host (SNI or Host):
  // the exact-IP listener's match first, then the "*" listener's. nullptr when neither accepts it.
  const Route* route(std::string_view localAddress, uint16_t port, std::string_view host) const;
  // The listener a connection on localAddress:port belongs to (exact IP, else "*").
  const Listener* listenerFor(std::string_view localAddress, uint16_t port) const;
  // The route whose TLS context a handshake on localAddress:port gets for serverName (the SNI
  // name, "" when the client sent none): route()'s answer when it carries a context. nullptr means
  // the handshake fails with unrecognized_name. The data plane's client-hello callback and
  // `siteplane explain` both decide through this one function.
  const Route* handshakeRoute(std::string_view localAddress, uint16_t port,
                              std::string_view serverName) const;

  size_t bindingCount() const { return bindingCount_; }

 private:
  BindingTable() = default;
  uint64_t generation_ = 0;
  size_t bindingCount_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<ListenerKey, const Listener*, ListenerKeyHash> byKey_;
};

}  // namespace siteplane::table
