#pragma once

#include "controller/api/object.h"
#include "controller/store/store.h"

namespace siteplane::reconcile {

// Writes `object`'s status through the store's status subresource when it differs from the
// status of `stored` (the object as it was read at the start of the reconcile), with `stored`'s
// resourceVersion as precondition: a Conflict means the object changed meanwhile, and that change
// queues the key again. Returns whether a write happened.
Result<bool> writeStatusIfChanged(store::Store& store, const api::Object& object,
                                  const store::ObjectPtr& stored);

}  // namespace siteplane::reconcile
