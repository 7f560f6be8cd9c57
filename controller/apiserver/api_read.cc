// The read verbs: get, list (with limit/continue pages) and watch.

#include <algorithm>
#include <charconv>
#include <random>
#include <set>

#include "common/object_key.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_handler_support.h"
#include "controller/apiserver/field_selector.h"
#include "controller/apiserver/table_converter.h"

namespace siteplane::apiserver {
namespace {

constexpr const char* kTableContentType = "application/json;as=Table;v=v1;g=meta.k8s.io";

// A query parameter that must be a whole non-negative decimal number; nullopt otherwise.
std::optional<long long> nonNegative(const std::string& text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// labelSelector and fieldSelector, as list and watch take them; an empty one selects everything.
std::optional<ApiError> parseSelectors(const ApiRequest& request, store::LabelSelector& labels,
                                       FieldSelector& fields) {
  if (auto selector = request.param("labelSelector"); selector && !selector->empty()) {
    auto parsed = store::LabelSelector::parse(*selector);
    if (!parsed) return ApiError::badRequest("labelSelector: " + parsed.message());
    labels = std::move(parsed).value();
  }
  if (auto selector = request.param("fieldSelector"); selector && !selector->empty()) {
    auto parsed = FieldSelector::parse(*selector);
    if (!parsed) return ApiError::badRequest(parsed.message());
    fields = std::move(parsed).value();
  }
  return std::nullopt;
}

}  // namespace

ApiReply ApiHandler::get(const Target& target, const Output& output) {
  auto object = store_.get(ObjectKey{target.type->kind, *target.ns, target.name});
  if (!object) return reply(fromStoreError(object.status(), *target.type, target.name));
  const nlohmann::json& value = **object;
  if (output.form == Output::Form::kTable) {
    TableConverter converter(*target.type, options_.clock->wallNow());
    return reply(jsonResponse(200,
                              converter.table({value}, metadataString(value, "resourceVersion")),
                              kTableContentType));
  }
  if (output.form == Output::Form::kPartialMetadata) {
    return reply(jsonResponse(200, {{"kind", "PartialObjectMetadata"},
                                    {"apiVersion", "meta.k8s.io/v1"},
                                    {"metadata", value["metadata"]}}));
  }
  return reply(jsonResponse(200, value));
}

ApiReply ApiHandler::list(const ApiRequest& request, const Target& target, const Output& output) {
  store::ListOptions options;
  options.kind = target.type->kind;
  options.ns = target.ns;
  FieldSelector fields;
  if (auto error = parseSelectors(request, options.selector, fields)) return reply(*error);
  size_t limit = 0;
  if (auto text = request.param("limit"); text && !text->empty()) {
    auto value = nonNegative(*text);
    if (!value) {
      return reply(ApiError::badRequest("limit: \"" + *text + "\" is not a non-negative integer"));
    }
    limit = static_cast<size_t>(*value);
  }
  // A continue token is good only for the list that issued it.
  std::string query = target.type->groupResource() + " namespace=" + target.ns.value_or("") +
                      " labelSelector=" + request.param("labelSelector").value_or("") +
                      " fieldSelector=" + request.param("fieldSelector").value_or("");
  ListPage page;
  if (std::string token = request.param("continue").value_or(""); !token.empty()) {
    if (!request.param("resourceVersion").value_or("").empty()) {
      return reply(
          ApiError::badRequest("specifying resourceVersion is not allowed when using continue"));
    }
    if (auto error = pager_.next(token, query, limit, page, options_.clock->now()))
      return reply(*error);
  } else {
    store::ObjectList objects = store_.list(options);
    std::vector<store::ObjectPtr> matching;
    for (auto& object : objects.items) {
      if (fields.matches(*object)) matching.push_back(std::move(object));
    }
    page = pager_.first(std::move(matching), objects.resourceVersion, query, limit,
                        options_.clock->now());
  }
  std::vector<nlohmann::json> items;
  items.reserve(page.items.size());
  for (const auto& object : page.items) items.push_back(*object);
  nlohmann::json listMeta = {
      {"resourceVersion", store::formatResourceVersion(page.resourceVersion)}};
  if (!page.continueToken.empty()) {
    listMeta["continue"] = page.continueToken;
    listMeta["remainingItemCount"] = page.remainingItemCount;
  }
  if (output.form == Output::Form::kTable) {
    TableConverter converter(*target.type, options_.clock->wallNow());
    nlohmann::json table = converter.table(items, listMeta["resourceVersion"].get<std::string>());
    table["metadata"] = listMeta;
    return reply(jsonResponse(200, table, kTableContentType));
  }
  if (output.form == Output::Form::kPartialMetadata) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : items) {
      list.push_back({{"kind", "PartialObjectMetadata"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", item["metadata"]}});
    }
    return reply(jsonResponse(200, {{"kind", "PartialObjectMetadataList"},
                                    {"apiVersion", "meta.k8s.io/v1"},
                                    {"metadata", listMeta},
                                    {"items", list}}));
  }
  return reply(jsonResponse(200, {{"apiVersion", target.type->apiVersion()},
                                  {"kind", target.type->listKind},
                                  {"metadata", listMeta},
                                  {"items", items}}));
}

namespace {

// How long a watch runs. Without timeoutSeconds, Kubernetes picks 30 to 60 minutes at random
// (--min-request-timeout), so that the watches of many clients do not all end and reconnect at
// once and a vanished client's watch does not live forever; so does siteplane. A requested
// timeout is capped at a day, far beyond what clients ask for and far from overflowing a timer.
std::chrono::seconds watchTimeout(long long requestedSeconds) {
  constexpr long long kMinRequestTimeout = 1800;
  constexpr long long kMaxTimeout = 24 * 3600;
  if (requestedSeconds > 0) return std::chrono::seconds(std::min(requestedSeconds, kMaxTimeout));
  thread_local std::mt19937_64 random(std::random_device{}());
  std::uniform_int_distribution<long long> spread(kMinRequestTimeout, 2 * kMinRequestTimeout);
  return std::chrono::seconds(spread(random));
}

// ?timeoutSeconds: a whole number of seconds, 0 when absent.
std::optional<ApiError> parseTimeoutSeconds(const ApiRequest& request, long long& seconds) {
  seconds = 0;
  if (auto timeout = request.param("timeoutSeconds"); timeout && !timeout->empty()) {
    auto value = nonNegative(*timeout);
    if (!value) {
      return ApiError::badRequest("timeoutSeconds: \"" + *timeout +
                                  "\" is not a non-negative number of seconds");
    }
    seconds = *value;
  }
  return std::nullopt;
}

// Renders one watch's store events for its client. Everything the subscription callback needs is
// in here, by value: the callback runs on store threads and may outlive the request.
struct WatchEncoder {
  ResourceType type;
  std::optional<std::string> ns;
  store::LabelSelector labels;
  FieldSelector fields;
  bool table = false;
  const Clock* clock = nullptr;  // the handler's
  bool headersSent = false;      // touched only by the thread delivering events (one at a time)

  // Objects the client currently sees as matching the selectors (namespace/name): a change
  // that makes one stop matching is a DELETED for this watch, one that makes it start
  // matching an ADDED, as Kubernetes reports them.
  std::set<std::string> visible;

  // The list a watch starts from: its kind, namespace and label selector (fields are matched by
  // the encoder).
  store::ListOptions listOptions() const {
    store::ListOptions options;
    options.kind = type.kind;
    options.ns = ns;
    options.selector = labels;
    return options;
  }

  // The event line for `object`, or nothing when the client is not to see it.
  std::optional<std::string> encode(const char* type, const nlohmann::json& object) {
    if (stringMember(object, "kind") != this->type.kind) return std::nullopt;
    if (ns && metadataString(object, "namespace") != *ns) return std::nullopt;
    std::string key = metadataString(object, "namespace") + "/" + metadataString(object, "name");
    bool matches = labels.matchesObject(object) && fields.matches(object);
    bool deleted = std::string_view(type) == "DELETED";
    bool seen = visible.count(key) > 0;
    if (!matches && !seen) return std::nullopt;
    if (!matches || deleted) {
      visible.erase(key);
      type = "DELETED";
    } else {
      if (!seen) type = "ADDED";
      visible.insert(key);
    }
    nlohmann::json event = {{"type", type}};
    if (table) {
      // Like Kubernetes, only the first event carries the column definitions.
      TableConverter converter(this->type, clock->wallNow());
      event["object"] =
          converter.table({object}, metadataString(object, "resourceVersion"), !headersSent);
      headersSent = true;
    } else {
      event["object"] = object;
    }
    return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
};

// Where a watch starts, returned as the resourceVersion it continues after. Without a
// resourceVersion (or with "0") the current state goes to the stream as synthetic ADDED events,
// then every change follows. With one, the client listed there; what matches now is the best
// estimate of what it saw, so a later change that makes one of those stop matching reports
// DELETED.
Result<uint64_t> startWatch(store::Store& store, const ApiRequest& request, WatchEncoder& encoder,
                            WatchStream& stream) {
  std::string resourceVersion = request.param("resourceVersion").value_or("");
  if (resourceVersion.empty() || resourceVersion == "0") {
    store::ObjectList current = store.list(encoder.listOptions());
    for (const auto& object : current.items) {
      if (auto chunk = encoder.encode("ADDED", *object)) stream.push(std::move(*chunk));
    }
    return current.resourceVersion;
  }
  auto from = store::parseResourceVersion(resourceVersion);
  if (!from) return from.status();
  for (const auto& object : store.list(encoder.listOptions()).items) {
    if (encoder.fields.matches(*object)) {
      encoder.visible.insert(metadataString(*object, "namespace") + "/" +
                             metadataString(*object, "name"));
    }
  }
  return *from;
}

// A BOOKMARK event at a resourceVersion: `object` (of the watch's kind, or a Table or
// PartialObjectMetadata) carrying only metadata.resourceVersion.
std::function<std::string(uint64_t)> bookmarkEncoder(nlohmann::json object) {
  return [object](uint64_t resourceVersion) {
    nlohmann::json event = {{"type", "BOOKMARK"}, {"object", object}};
    event["object"]["metadata"] = {
        {"resourceVersion", store::formatResourceVersion(resourceVersion)}};
    return event.dump() + "\n";
  };
}

// Feeds `stream` with the store's events after `from`, encoded for its client, for as long as
// the stream lives.
Status subscribe(store::Store& store, std::shared_ptr<WatchEncoder> encoder,
                 const std::shared_ptr<WatchStream>& stream, uint64_t from) {
  std::weak_ptr<WatchStream> weak = stream;
  auto subscription = store.watch(from, [weak, encoder](const store::WatchEvent& event) {
    auto stream = weak.lock();
    if (!stream) return;
    // Runs on a store thread: nothing may escape it.
    try {
      auto chunk = encoder->encode(store::toString(event.type), *event.object);
      // An event that does not match still moves the stream's resourceVersion (bookmarks).
      stream->push(chunk ? std::move(*chunk) : std::string(), event.resourceVersion);
    } catch (const std::exception& error) {
      log()->error("watch_event_dropped kind={} error=\"{}\"", event.key.kind, error.what());
    }
  });
  if (!subscription) return subscription.status();
  stream->adopt(std::move(subscription).value());
  return Status::ok();
}

}  // namespace

ApiReply ApiHandler::watch(const ApiRequest& request, const Target& target, const Output& output) {
  auto encoder = std::make_shared<WatchEncoder>();
  encoder->type = *target.type;
  encoder->ns = target.ns;
  encoder->table = output.form == Output::Form::kTable;
  encoder->clock = options_.clock;
  if (auto error = parseSelectors(request, encoder->labels, encoder->fields)) return reply(*error);
  long long timeoutSeconds = 0;
  if (auto error = parseTimeoutSeconds(request, timeoutSeconds)) return reply(*error);

  auto stream = std::make_shared<WatchStream>(watchTimeout(timeoutSeconds));
  Result<uint64_t> from = startWatch(store_, request, *encoder, *stream);
  if (!from) return reply(ApiError::badRequest("resourceVersion: " + from.message()));
  if (request.flag("allowWatchBookmarks")) {
    nlohmann::json object = {{"apiVersion", target.type->apiVersion()},
                             {"kind", target.type->kind}};
    if (output.form == Output::Form::kTable) {
      object = {{"apiVersion", "meta.k8s.io/v1"},
                {"kind", "Table"},
                {"columnDefinitions", nlohmann::json::array()},
                {"rows", nlohmann::json::array()}};
    } else if (output.form == Output::Form::kPartialMetadata) {
      object = {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "PartialObjectMetadata"}};
    }
    stream->enableBookmarks(bookmarkEncoder(std::move(object)), *from);
  }
  if (Status subscribed = subscribe(store_, std::move(encoder), stream, *from); !subscribed) {
    return reply(fromStoreError(subscribed, *target.type, ""));
  }
  ApiResponse head;
  head.status = 200;
  head.contentType = "application/json";
  return ApiReply{std::move(head), stream, ""};
}

}  // namespace siteplane::apiserver
