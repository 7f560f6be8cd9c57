# Writes OUTPUT, a C++ source holding the contents of every file in INPUTS ('|'-separated), so
# the binary carries the CRDs it serves and never reads the source tree at run time.
string(REPLACE "|" ";" inputs "${INPUTS}")
set(body "")
foreach(input IN LISTS inputs)
  if(input STREQUAL "")
    continue()
  endif()
  get_filename_component(name ${input} NAME)
  file(READ ${input} content)
  string(FIND "${content}" ")siteplane_crd\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${input} contains the raw-string delimiter )siteplane_crd\"")
  endif()
  string(APPEND body "    {\"${name}\", R\"siteplane_crd(${content})siteplane_crd\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from crds/*.yaml by embed_crds.cmake; do not edit.
#include \"controller/apiserver/embedded_crds.h\"

namespace siteplane::apiserver {

const std::vector<EmbeddedFile>& embeddedCrdFiles() {
  static const std::vector<EmbeddedFile> kFiles = {
${body}  };
  return kFiles;
}

}  // namespace siteplane::apiserver
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
