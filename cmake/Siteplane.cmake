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
  # A test tagged [kubectl] runs once per kubectl found (siteplane_find_kubectls), as
  # "kubectl-1.20: <name>", with SITEPLANE_KUBECTL naming the binary; the others run once.
  set(kubectl_tags)
  foreach(source IN LISTS sources)
    file(STRINGS ${source} tagged REGEX "\\[kubectl\\]")
    list(APPEND kubectl_tags ${tagged})
  endforeach()
  if(NOT kubectl_tags OR NOT SITEPLANE_KUBECTLS)
    catch_discover_tests(${name} DISCOVERY_MODE PRE_TEST)
    return()
  endif()
  catch_discover_tests(${name} DISCOVERY_MODE PRE_TEST TEST_SPEC "~[kubectl]")
  foreach(entry IN LISTS SITEPLANE_KUBECTLS)
    string(REPLACE "=" ";" entry "${entry}")
    list(GET entry 0 label)
    list(GET entry 1 program)
    # --name is only the run's name; it also keeps each kubectl's discovery files apart.
    catch_discover_tests(${name} DISCOVERY_MODE PRE_TEST TEST_SPEC "[kubectl]"
      TEST_PREFIX "${label}: " EXTRA_ARGS --name ${label} TEST_LIST ${name}_${label}
      PROPERTIES ENVIRONMENT "SITEPLANE_KUBECTL=${program}")
  endforeach()
endfunction()

# SITEPLANE_KUBECTLS: "kubectl-MAJOR.MINOR=/path/to/kubectl" for each distinct kubectl version on
# this machine: the one on PATH and those scripts/install-deps unpacked into
# ${XDG_CACHE_HOME:-~/.cache}/siteplane/kubectl-*/ (Debian's 1.20). Users run old and new clients
# against the API, so the kubectl tests do too.
function(siteplane_find_kubectls)
  set(candidates)
  find_program(SITEPLANE_PATH_KUBECTL kubectl)
  if(SITEPLANE_PATH_KUBECTL)
    list(APPEND candidates ${SITEPLANE_PATH_KUBECTL})
  endif()
  if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
    set(cache "$ENV{XDG_CACHE_HOME}/siteplane")
  else()
    set(cache "$ENV{HOME}/.cache/siteplane")
  endif()
  file(GLOB cached LIST_DIRECTORIES false "${cache}/kubectl-*/usr/bin/kubectl")
  list(SORT cached)
  list(APPEND candidates ${cached})
  set(found)
  set(labels)
  foreach(program IN LISTS candidates)
    execute_process(COMMAND ${program} version --client -o json
      OUTPUT_VARIABLE json RESULT_VARIABLE failed ERROR_QUIET)
    if(failed)
      message(WARNING "${program} does not run (${failed}); its kubectl tests are skipped")
      continue()
    endif()
    string(JSON major GET "${json}" clientVersion major)
    string(JSON minor GET "${json}" clientVersion minor)
    string(REGEX REPLACE "[^0-9]" "" minor "${minor}")
    set(label "kubectl-${major}.${minor}")
    if(NOT label IN_LIST labels)
      list(APPEND labels ${label})
      list(APPEND found "${label}=${program}")
    endif()
  endforeach()
  message(STATUS "kubectl tests run with: ${found}")
  set(SITEPLANE_KUBECTLS ${found} PARENT_SCOPE)
endfunction()
siteplane_find_kubectls()
