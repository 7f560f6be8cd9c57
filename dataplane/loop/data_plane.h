#pragma once

// The data plane facade: N worker threads, each with its own libuv loop and SO_REUSEPORT listeners,
// serving an immutable BindingTable that can be replaced at any moment (publish).
//
//   auto plane = DataPlane::create(options);          // validates options, no threads yet
//   plane->start();                                    // workers run (no listeners until a table)
//   plane->publish(table, [](const PublishReport& r) { ... });  // any thread, any time
//   plane->stop(std::chrono::seconds(10));            // drain and join
//
// Swap semantics: listeners present in both tables stay open (never rebound); new ones open;
// removed ones stop accepting and their connections finish the request in flight (answered with
// Connection: close) and close, forcibly after drainTimeout. New handshakes and the next request
// of a kept-alive connection use the new table; a connection keeps the TLS context it handshook
// with; idle keep-alive connections whose binding is still there are never closed by a swap.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "dataplane/http/access_log.h"
#include "dataplane/table/binding_table.h"
#include "dataplane/table/challenge_answers.h"
#include "dataplane/table/publish_report.h"

namespace siteplane::loop {

class AddressLimiter;
class Worker;

struct Limits {
  size_t maxHeaderBytes = 16 * 1024;                  // request line + headers, above: 431
  std::chrono::milliseconds headerTimeout{10000};     // to receive a whole request (slowloris): 408
  std::chrono::milliseconds keepAliveTimeout{60000};  // idle keep-alive connection: closed
  size_t maxBodyBytes = 1 << 20;                      // above: 413
  size_t maxConnectionsPerWorker = 8192;              // beyond: stop accepting until one closes
  // Open connections one client IP address may hold across all workers; beyond, a new one is
  // closed (reset) as soon as it is accepted. 0: unlimited.
  size_t maxConnectionsPerAddress = 0;
  std::chrono::milliseconds handshakeTimeout{10000};
};

struct DataPlaneOptions {
  unsigned workers = 0;  // 0: one per core
  Limits limits;
  http::AccessLogFormat accessLog = http::AccessLogFormat::kW3C;
  std::chrono::milliseconds drainTimeout{10000};  // removed listeners' connections
  // ACME http-01 answers, given before any site policy to requests under
  // /.well-known/acme-challenge/ (null: none). The controller adds and removes them.
  std::shared_ptr<const table::ChallengeAnswers> challenges;
};

struct Stats {
  uint64_t activeConnections = 0;
  uint64_t acceptedConnections = 0;
  uint64_t refusedConnections = 0;  // closed at accept: the client address was at its limit
  uint64_t handshakes = 0;          // completed TLS handshakes
  uint64_t resumedHandshakes = 0;
  uint64_t requests = 0;
  // tls::handshakeFailureLabel() of the reason -> count: only labels of
  // tls::kHandshakeFailureLabels
  std::map<std::string, uint64_t> handshakeFailures;
  // site -> requests by status class: [0] 1xx ... [4] 5xx
  std::map<std::string, std::array<uint64_t, 5>> requestsBySite;
};

class DataPlane {
 public:
  static Result<std::unique_ptr<DataPlane>> create(DataPlaneOptions options);
  ~DataPlane();  // stops with no drain if still running
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  Status start();
  // From any thread. Binds new listeners on the calling thread (errors land in the report), then
  // every worker switches to the table. onApplied runs once, on a worker thread, when every worker
  // serves the table; it must not block. Publications are applied in call order.
  void publish(std::shared_ptr<const table::BindingTable> table,
               std::function<void(const table::PublishReport&)> onApplied);
  // The table every worker serves now (null before the first publish was applied).
  std::shared_ptr<const table::BindingTable> currentTable() const;
  // The same table with its publication's listener reports: a listener whose bind failed stays in
  // the table, but nothing of ours accepts on it (`siteplane show sslcert`, `explain`).
  struct LiveTable {
    std::shared_ptr<const table::BindingTable> table;
    std::vector<table::ListenerReport> listeners;
  };
  LiveTable liveTable() const;
  Stats stats() const;
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }
  // Stops accepting, lets requests in flight finish within drain, joins the workers.
  void stop(std::chrono::milliseconds drain);

 private:
  friend class Worker;
  explicit DataPlane(DataPlaneOptions options);
  void applied(const std::shared_ptr<const table::BindingTable>& table,
               const table::PublishReport& report);

  DataPlaneOptions options_;
  std::unique_ptr<http::AccessLog> accessLog_;
  std::unique_ptr<AddressLimiter> addressLimiter_;  // shared by the workers, outlives them
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
  bool stopped_ = false;

  std::mutex publishMutex_;  // orders publications; guards listening_
  // Listeners whose sockets the workers hold, with what they are bound to.
  std::unordered_map<table::ListenerKey, std::vector<std::string>, table::ListenerKeyHash>
      listening_;

  mutable std::mutex currentMutex_;  // guards current_ and currentListeners_
  std::shared_ptr<const table::BindingTable> current_;
  std::vector<table::ListenerReport> currentListeners_;  // current_'s publication report
};

}  // namespace siteplane::loop
