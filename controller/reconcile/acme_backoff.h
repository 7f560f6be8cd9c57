#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace siteplane::reconcile {

// How long a Certificate whose order failed (or an Issuer whose registration failed) waits before
// the next: 10 s, doubling with every failure in a row up to an hour, forgotten on success. A
// public CA counts failed validations (Let's Encrypt allows 5 per name an hour), so this is slower
// than the work queue's backoff.
class AcmeBackoff {
 public:
  std::chrono::seconds failed(const std::string& storeKey);
  // How soon an order that is still pending or processing is looked at again: every second for
  // ten looks, then doubling up to a minute, so a stuck order does not poll the CA forever at
  // 1/s.
  std::chrono::seconds poll(const std::string& storeKey);
  // Forgets the key's failures and polls (its order ended, or the Certificate is gone).
  void succeeded(const std::string& storeKey);

 private:
  std::mutex mutex_;
  std::map<std::string, int> failures_;
  std::map<std::string, int> polls_;
};

}  // namespace siteplane::reconcile
