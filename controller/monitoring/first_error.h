#pragma once

#include <utility>

#include "common/status.h"

namespace siteplane::monitoring {

// Keeps the first error of a sequence of metric writes and lets the others run: a family refused
// by a bug, or a figure that cannot be read, must not hide every family after it.
class FirstError {
 public:
  void operator()(Status next) {
    if (status_.isOk() && !next.isOk()) status_ = std::move(next);
  }
  Status take() { return std::move(status_); }

 private:
  Status status_ = Status::ok();
};

}  // namespace siteplane::monitoring
