#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace siteplane {

// One named spdlog logger per module ("controller.reconcile", "dataplane.tls"); created on first
// use and shared by every thread. Lines are an event name followed by key=value pairs.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

enum class LogFormat { kText, kJson };

// Configures every module logger: level ("trace".."off") and line format. Returns false when the
// level name is unknown.
bool configureLogging(const std::string& level, LogFormat format);

}  // namespace siteplane
