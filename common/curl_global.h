#pragma once

// libcurl's process-wide initialisation, done once by whichever of its users (the Kubernetes
// client, the ACME transport) runs first. Header-only: only modules that link libcurl include it.

#include <curl/curl.h>

#include <mutex>

namespace siteplane {

inline void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace siteplane
