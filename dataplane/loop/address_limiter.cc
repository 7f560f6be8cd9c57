#include "dataplane/loop/address_limiter.h"

namespace siteplane::loop {

AddressLimiter::Shard& AddressLimiter::shardOf(std::string_view address) const {
  return shards_[Hash{}(address) % kShards];
}

bool AddressLimiter::acquire(std::string_view address) noexcept {
  if (limit_ == 0) return true;
  Shard& shard = shardOf(address);
  std::lock_guard lock(shard.mutex);
  auto it = shard.counts.find(address);
  if (it == shard.counts.end()) {
    try {
      shard.counts.emplace(std::string(address), 1);
    } catch (...) {
      return false;
    }
    return true;
  }
  if (it->second >= limit_) return false;
  ++it->second;
  return true;
}

void AddressLimiter::release(std::string_view address) noexcept {
  if (limit_ == 0) return;
  Shard& shard = shardOf(address);
  std::lock_guard lock(shard.mutex);
  auto it = shard.counts.find(address);
  if (it == shard.counts.end()) return;
  // The entry goes with the address's last connection: the map holds only addresses connected now.
  if (--it->second == 0) shard.counts.erase(it);
}

size_t AddressLimiter::count(std::string_view address) const {
  if (limit_ == 0) return 0;
  Shard& shard = shardOf(address);
  std::lock_guard lock(shard.mutex);
  auto it = shard.counts.find(address);
  return it == shard.counts.end() ? 0 : it->second;
}

}  // namespace siteplane::loop
