#include "controller/reconcile/generation_filter.h"

namespace siteplane::reconcile {

bool GenerationFilter::changed(const store::WatchEvent& event) {
  std::string key = event.key.toString();
  std::lock_guard lock(mutex_);
  if (event.type == store::WatchEvent::Type::kDeleted || !event.object) {
    seen_.erase(key);
    return true;
  }
  int64_t generation = 0;
  auto found = event.object->find("metadata");
  if (found != event.object->end() && found->is_object()) {
    auto value = found->find("generation");
    if (value != found->end() && value->is_number_integer()) generation = value->get<int64_t>();
  }
  auto [seen, inserted] = seen_.try_emplace(key, generation);
  if (inserted || event.type == store::WatchEvent::Type::kAdded) {
    seen->second = generation;
    return true;
  }
  if (seen->second == generation) return false;
  seen->second = generation;
  return true;
}

}  // namespace siteplane::reconcile
