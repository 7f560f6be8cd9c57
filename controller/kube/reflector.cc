#include "controller/kube/reflector.h"

#include <curl/curl.h>

#include <algorithm>
#include <random>
#include <utility>

#include "common/json_bounds.h"
#include "common/json_fields.h"
#include "common/logging.h"
#include "controller/kube/jitter.h"

namespace siteplane::kube {
namespace {

using nlohmann::json;

auto logger() { return siteplane::logger("controller.kube"); }

// Kubernetes objects nest a few dozen levels; anything near this is not an object we can use.
constexpr int kMaxObjectDepth = 512;
// Far beyond any real collection of these kinds (etcd's own guidance ends near a million objects
// in all): a list longer than this is refused rather than held in memory.
constexpr size_t kMaxListItems = 1'000'000;

std::string escaped(const std::string& value) {
  char* encoded = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
  std::string text = encoded ? encoded : "";
  curl_free(encoded);
  return text;
}

// The message of a Kubernetes Status object, or what there is.
std::string statusText(const json& status) {
  auto message = status.find("message");
  if (status.is_object() && message != status.end() && message->is_string())
    return message->get<std::string>();
  return status.dump();
}

int statusCode(const json& status) {
  auto code = status.find("code");
  return status.is_object() && code != status.end() && code->is_number_integer() ? code->get<int>()
                                                                                 : 0;
}

// List items of built-in kinds come without apiVersion and kind; the list says them once.
void completeItem(json& item, const std::string& apiVersion, const std::string& listKind) {
  if (!item.contains("apiVersion")) item["apiVersion"] = apiVersion;
  if (!item.contains("kind") && listKind.size() > 4 && listKind.ends_with("List"))
    item["kind"] = listKind.substr(0, listKind.size() - 4);
}

}  // namespace

Result<std::unique_ptr<Reflector>> Reflector::create(const KubeConfig& config,
                                                     ReflectorOptions options) {
  if (options.path.empty() || !options.onReplace || !options.onEvent)
    return Status::error("reflector: a path and both callbacks are required");
  auto client = KubeClient::create(config);
  if (!client) return client.status();
  return std::unique_ptr<Reflector>(new Reflector(std::move(client).value(), std::move(options)));
}

Reflector::Reflector(std::unique_ptr<KubeClient> client, ReflectorOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  client_->cancel();
  if (thread_.joinable()) thread_.join();
}

bool Reflector::waitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return health_.synced || stopping_; }) &&
         health_.synced;
}

ReflectorHealth Reflector::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

void Reflector::run() {
  unsigned failures = 0;
  bool needList = true;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (needList) {
      auto listed = listAll();
      if (!listed) {
        if (listed.status().code() == ErrorCode::kCancelled) return;
        recordFailure(listed.status());
        backOff(++failures);
        continue;
      }
      resourceVersion_ = *listed;
      needList = false;
    }
    auto watchStarted = std::chrono::steady_clock::now();
    Status watched = watchOnce();
    auto watchLasted = std::chrono::steady_clock::now() - watchStarted;
    {
      std::lock_guard lock(mutex_);
      health_.watching = false;
      health_.resourceVersion = resourceVersion_;
    }
    if (watched) {
      // The server ended the watch on time: resume at once, unless it ends them as soon as they
      // start (a proxy), which must not become a busy loop.
      failures = watchLasted < std::chrono::seconds(1) ? failures + 1 : 0;
      if (failures > 0) backOff(failures);
      continue;
    }
    if (watched.code() == ErrorCode::kCancelled) return;
    if (watched.code() == ErrorCode::kExpired) {
      // The version we resume from is compacted away: only a new list tells what changed.
      logger()->info("watch_expired path={} resource_version={}", options_.path, resourceVersion_);
      needList = true;
      continue;
    }
    recordFailure(watched);
    backOff(++failures);
  }
}

std::string Reflector::query(const std::string& extra) const {
  std::string text = options_.path + "?" + extra;
  if (!options_.labelSelector.empty()) text += "&labelSelector=" + escaped(options_.labelSelector);
  return text;
}

Result<std::string> Reflector::listAll() {
  std::vector<json> items;
  std::string continueToken;
  std::string resourceVersion;
  for (;;) {
    std::string page = "limit=" + std::to_string(options_.pageSize);
    if (!continueToken.empty()) page += "&continue=" + escaped(continueToken);
    auto answer = client_->request("GET", query(page));
    if (!answer) return answer.status();
    auto body = parseJsonBounded(answer->body, "the list of " + options_.path, kMaxObjectDepth);
    if (answer->status == 410 && !continueToken.empty()) {
      // The continue token outlived etcd's compaction: start the list again from the top.
      items.clear();
      continueToken.clear();
      continue;
    }
    if (answer->status != 200) {
      std::string why = body ? statusText(*body) : answer->body.substr(0, 200);
      return Status::error(
          ErrorCode::kUnavailable,
          "list " + options_.path + ": HTTP " + std::to_string(answer->status) + ": " + why);
    }
    if (!body) return body.status();
    json& list = *body;
    if (!list.is_object() || !list.contains("items") ||
        !(list["items"].is_array() || list["items"].is_null()))
      return Status::error(ErrorCode::kUnavailable,
                           "list " + options_.path + ": the answer is not a list");
    std::string apiVersion = stringMember(list, "apiVersion");
    std::string listKind = stringMember(list, "kind");
    if (list["items"].is_null()) list["items"] = json::array();
    for (json& item : list["items"]) {
      if (!item.is_object()) continue;
      completeItem(item, apiVersion, listKind);
      items.push_back(std::move(item));
    }
    std::string next = metadataString(list, "continue");
    resourceVersion = metadataString(list, "resourceVersion");
    if (next.empty()) break;  // the last page: only a whole list is delivered
    // A server that hands back the token it was given, or pages without end, is not listing.
    if (next == continueToken || items.size() > kMaxListItems)
      return Status::error(ErrorCode::kUnavailable,
                           "list " + options_.path + ": the pages do not end (" +
                               std::to_string(items.size()) + " items so far)");
    continueToken = std::move(next);
  }

  deliver([&] { options_.onReplace(std::move(items)); });
  std::lock_guard lock(mutex_);
  health_.synced = true;
  health_.lastError.clear();
  ++health_.lists;
  health_.resourceVersion = resourceVersion;
  changed_.notify_all();
  return resourceVersion;
}

Status Reflector::watchOnce() {
  thread_local std::mt19937 random{std::random_device{}()};
  auto minimum = options_.minWatchTimeout.count();
  std::uniform_int_distribution<long long> spread(minimum, 2 * minimum - 1);
  long long timeoutSeconds = std::max<long long>(1, spread(random));
  std::string path =
      query("watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeoutSeconds) +
            "&resourceVersion=" + escaped(resourceVersion_));
  watchFailure_ = Status::ok();
  {
    std::lock_guard lock(mutex_);
    health_.watching = true;
  }
  // The server sends a bookmark about every minute; twice the requested timeout of silence means
  // the connection is gone without a FIN.
  auto onLine = [this](std::string_view line) {
    // Runs inside libcurl's write callback: nothing may unwind through its C frames.
    try {
      return onWatchLine(line);
    } catch (const std::exception& error) {
      watchFailure_ = Status::error(ErrorCode::kUnavailable,
                                    "a watch event of " + options_.path + ": " + error.what());
      return false;
    }
  };
  Status ended = client_->watch(path, onLine,
                                std::chrono::seconds(std::max<long long>(90, timeoutSeconds + 30)));
  if (!ended) return ended;
  if (!watchFailure_) return watchFailure_;
  std::lock_guard lock(mutex_);
  health_.lastError.clear();
  return Status::ok();
}

bool Reflector::onWatchLine(std::string_view line) {
  if (line.find_first_not_of(" \r\n\t") == std::string_view::npos) return true;
  auto event = parseJsonBounded(line, "a watch event of " + options_.path, kMaxObjectDepth);
  if (!event || !event->is_object() || !(*event)["object"].is_object()) {
    watchFailure_ = event ? Status::error(ErrorCode::kUnavailable,
                                          "a watch event of " + options_.path + " has no object")
                          : Status::error(ErrorCode::kUnavailable, event.message());
    return false;
  }
  std::string type = stringMember(*event, "type");
  json& object = (*event)["object"];
  if (type == "ERROR") {
    int code = statusCode(object);
    watchFailure_ = Status::error(code == 410 ? ErrorCode::kExpired : ErrorCode::kUnavailable,
                                  "watch " + options_.path + ": " + statusText(object));
    return false;
  }
  std::string version = metadataString(object, "resourceVersion");
  if (type == "BOOKMARK") {
    if (!version.empty()) resourceVersion_ = version;
    return true;
  }
  WatchEventType kind;
  if (type == "ADDED") {
    kind = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    kind = WatchEventType::kModified;
  } else if (type == "DELETED") {
    kind = WatchEventType::kDeleted;
  } else {
    logger()->warn("watch_event_ignored path={} type={}", options_.path, type);
    return true;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
  }
  deliver([&] { options_.onEvent(kind, object); });
  if (!version.empty()) resourceVersion_ = version;
  return true;
}

void Reflector::deliver(const std::function<void()>& callback) {
  // What the API server sent is decoded by the callbacks; an object they cannot handle (a field
  // of an unexpected type) must not end the process from this thread.
  try {
    callback();
  } catch (const std::exception& error) {
    logger()->error("reflector_callback_failed path={} error=\"{}\"", options_.path, error.what());
  }
}

void Reflector::recordFailure(const Status& failure) {
  logger()->warn("reflector_failed path={} error=\"{}\"", options_.path, failure.message());
  std::lock_guard lock(mutex_);
  health_.lastError = failure.message();
  ++health_.failures;
}

void Reflector::backOff(unsigned failures) {
  auto base = options_.initialBackoff;
  for (unsigned i = 1; i < failures && base < options_.maxBackoff; ++i) base *= 2;
  auto wait = jittered(std::min(base, options_.maxBackoff), 1.0);
  std::unique_lock lock(mutex_);
  Clock::TimePoint deadline = options_.clock->now() + wait;
  while (!stopping_ && options_.clock->now() < deadline)
    options_.clock->waitUntil(lock, changed_, deadline);
}

}  // namespace siteplane::kube
