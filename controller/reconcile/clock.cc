#include "controller/reconcile/clock.h"

namespace siteplane::reconcile {

Clock& Clock::real() {
  static SteadyClock clock;
  return clock;
}

}  // namespace siteplane::reconcile
