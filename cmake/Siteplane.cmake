include(Catch)

# siteplane_library(NAME DEPS...)
# One static library from the *.cc files of the calling folder. Headers are included by their path
# from the repository root ("dataplane/table/binding_table.h"), so the root is the include dir.
function(siteplane_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARGN})
endfunction()

# siteplane_test(NAME DEPS...)
# One Catch2 executable from the *.cc files of the calling test folder; every TEST_CASE becomes a
# ctest test. Tests find checked-in data under SITEPLANE_SOURCE_DIR and built binaries under
# SITEPLANE_BINARY_DIR (compile-time paths; testing::sourceDir()/binaryDir() return them).
function(siteplane_test name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  add_executable(${name} ${sources})
  target_link_libraries(${name} PRIVATE siteplane_test_main ${ARGN})
  target_compile_definitions(${name} PRIVATE
    SITEPLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SITEPLANE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  catch_discover_tests(${name} DISCOVERY_MODE PRE_TEST)
endfunction()
