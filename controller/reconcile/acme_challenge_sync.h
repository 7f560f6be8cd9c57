#pragma once

// Keeps one replica's ACME challenge answers (table::ChallengeAnswers, read by its data plane)
// equal to what its store's Certificates say to answer: the pending authorizations in
// status.acme.order with their token and key authorization. The leader writes them there before
// it asks the CA to validate, so every replica behind the Service answers, whichever the CA's
// validator reaches; a restart finds them again in the store.
//
//   AcmeChallengeSync sync(answers);
//   uint64_t version = sync.applyAll(store);  // what is stored now
//   auto subscription = store.watch(version, [&](const store::WatchEvent& e) { sync.observe(e); });
//
// Thread-safety: observe() and applyAll() from any thread (the store serializes its callbacks).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/store/store.h"
#include "controller/store/watch_event.h"
#include "dataplane/table/challenge_answers.h"

namespace siteplane::reconcile {

class AcmeChallengeSync {
 public:
  explicit AcmeChallengeSync(std::shared_ptr<table::ChallengeAnswers> answers)
      : answers_(std::move(answers)) {}

  void observe(const store::WatchEvent& event) noexcept;
  // Returns the resourceVersion of the snapshot applied, to watch from.
  uint64_t applyAll(const store::Store& store) noexcept;

 private:
  // `certificate` as stored now, or null when deleted. `owner`: "namespace/name".
  void apply(const std::string& owner, const nlohmann::json* certificate);

  std::shared_ptr<table::ChallengeAnswers> answers_;
};

}  // namespace siteplane::reconcile
