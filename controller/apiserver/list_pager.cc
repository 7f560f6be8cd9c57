#include "controller/apiserver/list_pager.h"

#include <algorithm>
#include <charconv>

namespace siteplane::apiserver {
namespace {

// Opaque to clients: "v1.<resourceVersion>.<snapshot id>.<offset>".
std::string encodeToken(uint64_t resourceVersion, uint64_t id, size_t offset) {
  return "v1." + std::to_string(resourceVersion) + "." + std::to_string(id) + "." +
         std::to_string(offset);
}

struct Token {
  uint64_t resourceVersion = 0;
  uint64_t id = 0;
  size_t offset = 0;
};

std::optional<Token> decodeToken(const std::string& text) {
  if (text.rfind("v1.", 0) != 0) return std::nullopt;
  Token token;
  const char* at = text.data() + 3;
  const char* end = text.data() + text.size();
  for (auto* field : {&token.resourceVersion, &token.id}) {
    auto [next, error] = std::from_chars(at, end, *field);
    if (error != std::errc() || next == end || *next != '.') return std::nullopt;
    at = next + 1;
  }
  auto [next, error] = std::from_chars(at, end, token.offset);
  if (error != std::errc() || next != end) return std::nullopt;
  return token;
}

}  // namespace

void ListPager::expire(TimePoint now) {
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    it = now - it->second.created > options_.maxAge ? snapshots_.erase(it) : std::next(it);
  }
  while (snapshots_.size() > options_.maxSnapshots) snapshots_.erase(snapshots_.begin());
}

ListPage ListPager::page(uint64_t id, Snapshot& snapshot, size_t offset, size_t limit) {
  ListPage out;
  out.resourceVersion = snapshot.resourceVersion;
  size_t end = limit == 0 ? snapshot.items.size() : std::min(snapshot.items.size(), offset + limit);
  out.items.assign(snapshot.items.begin() + static_cast<std::ptrdiff_t>(offset),
                   snapshot.items.begin() + static_cast<std::ptrdiff_t>(end));
  if (end < snapshot.items.size()) {
    out.continueToken = encodeToken(snapshot.resourceVersion, id, end);
    out.remainingItemCount = snapshot.items.size() - end;
  } else {
    snapshots_.erase(id);  // the last page: nobody continues from here
  }
  return out;
}

ListPage ListPager::first(std::vector<store::ObjectPtr> items, uint64_t resourceVersion,
                          const std::string& query, size_t limit, TimePoint now) {
  if (limit == 0 || items.size() <= limit) {
    ListPage out;
    out.items = std::move(items);
    out.resourceVersion = resourceVersion;
    return out;
  }
  std::lock_guard lock(mutex_);
  uint64_t id = nextId_++;
  Snapshot& snapshot = snapshots_[id];
  snapshot.items = std::move(items);
  snapshot.resourceVersion = resourceVersion;
  snapshot.query = query;
  snapshot.created = now;
  ListPage out = page(id, snapshot, 0, limit);
  expire(now);
  return out;
}

std::optional<ApiError> ListPager::next(const std::string& token, const std::string& query,
                                        size_t limit, ListPage& out, TimePoint now) {
  auto decoded = decodeToken(token);
  if (!decoded) return ApiError::badRequest("continue: \"" + token + "\" is not a continue token");
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = snapshots_.find(decoded->id);
  if (it == snapshots_.end() || it->second.resourceVersion != decoded->resourceVersion) {
    return ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. You "
        "can start a new list without the continue parameter.");
  }
  if (it->second.query != query) {
    return ApiError::badRequest("continue: the token belongs to another list (" + it->second.query +
                                ")");
  }
  if (decoded->offset > it->second.items.size()) {
    return ApiError::badRequest("continue: \"" + token + "\" is not a continue token");
  }
  out = page(decoded->id, it->second, decoded->offset, limit);
  return std::nullopt;
}

size_t ListPager::snapshots() const {
  std::lock_guard lock(mutex_);
  return snapshots_.size();
}

}  // namespace siteplane::apiserver
