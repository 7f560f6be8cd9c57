#pragma once

// Annotations siteplane itself writes on objects, spelled once for every module that reads them.

namespace siteplane {

// The manifest file (relative to the manifest directory) that declares an object. The manifest
// source owns such objects (prunes them when no file declares them); imports and Site roots of
// such objects may read from the manifest directory; an object without it came through the API.
inline constexpr const char* kManifestFileAnnotation = "siteplane.io/manifest-file";

}  // namespace siteplane
