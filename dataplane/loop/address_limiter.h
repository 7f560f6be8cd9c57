#pragma once

// Connections per client address, counted across every worker of a data plane.
//
// Process-wide rather than per worker: SO_REUSEPORT spreads one client's connections over the
// workers by a hash of the 4-tuple, so a per-worker count would let one address hold
// workers x limit connections and would refuse or admit a connection by which worker it hashed
// to. What an operator sets is one number per address. The cost is one uncontended lock (of one
// shard of 16) per accepted and per closed connection, and nothing at all when no limit is set.

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace siteplane::loop {

class AddressLimiter {
 public:
  // limit 0: unlimited; acquire() always succeeds and nothing is counted.
  explicit AddressLimiter(size_t limit) : limit_(limit) {}
  AddressLimiter(const AddressLimiter&) = delete;
  AddressLimiter& operator=(const AddressLimiter&) = delete;

  // Any thread. Counts one connection of `address` (a normalized IP literal); false, counting
  // nothing, when the address already holds `limit` connections (or memory ran out).
  [[nodiscard]] bool acquire(std::string_view address) noexcept;
  // Any thread. Gives back what a successful acquire() took.
  void release(std::string_view address) noexcept;
  size_t limit() const { return limit_; }
  // Connections counted for `address` now (tests, metrics).
  size_t count(std::string_view address) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view value) const { return std::hash<std::string_view>{}(value); }
  };
  struct Shard {
    mutable std::mutex mutex;  // guards counts
    std::unordered_map<std::string, size_t, Hash, std::equal_to<>> counts;
  };
  static constexpr size_t kShards = 16;
  Shard& shardOf(std::string_view address) const;

  const size_t limit_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace siteplane::loop
