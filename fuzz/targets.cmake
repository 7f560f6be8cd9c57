# The fuzz targets and the libraries each one exercises. Included by fuzz/CMakeLists.txt (the
# libFuzzer binaries, SITEPLANE_FUZZ=ON) and tests/fuzz/CMakeLists.txt (the corpus replays of the
# normal build), so both build every target from the same sources.
set(SITEPLANE_FUZZ_TARGETS http_request_parser static_path tls_client_hello manifest_decoder api_body)

set(SITEPLANE_FUZZ_LIBS_http_request_parser siteplane_http)
set(SITEPLANE_FUZZ_LIBS_static_path siteplane_static)
set(SITEPLANE_FUZZ_LIBS_tls_client_hello siteplane_tls siteplane_table OpenSSL::SSL OpenSSL::Crypto)
set(SITEPLANE_FUZZ_LIBS_manifest_decoder siteplane_manifest siteplane_api)
set(SITEPLANE_FUZZ_LIBS_api_body siteplane_apiserver siteplane_store siteplane_common)

# siteplane_fuzz_executable(EXE TARGET EXTRA_SOURCES...)
# One executable from fuzz/TARGET_fuzzer.cc plus the shared helpers and EXTRA_SOURCES.
function(siteplane_fuzz_executable exe target)
  add_executable(${exe} ${PROJECT_SOURCE_DIR}/fuzz/${target}_fuzzer.cc
                        ${PROJECT_SOURCE_DIR}/fuzz/fuzz_check.cc ${ARGN})
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${exe} PRIVATE ${SITEPLANE_FUZZ_LIBS_${target}})
endfunction()
