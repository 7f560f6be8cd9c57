#include "common/clock.h"

namespace siteplane {

Clock& Clock::real() {
  static SteadyClock clock;
  return clock;
}

}  // namespace siteplane
