# STAC source tests (label "stac"): items written by the tests point at COGs written by the
# tests, served by tests/stac/http_server.py on 127.0.0.1 (Range requests, optional 503s);
# every result is compared with the same files read with from-files.
# The STAC parser is fuzzed on every run: with -DSTRATA_BUILD_FUZZERS=ON and clang by the
# libFuzzer target (label "fuzz", as the kerchunk fuzzers), otherwise by a small mutation
# driver over the same target and corpus for a few seconds (label "stac").
option(STRATA_BUILD_FUZZERS "Build the libFuzzer targets (clang only)" OFF)
set(STRATA_FUZZ_SECONDS 20 CACHE STRING "How long each fuzz test runs")

set(STRATA_STAC_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/stac)
foreach(script read input errors search mismatch)
  add_test(NAME stac_${script} COMMAND ${STRATA_PYTHON} ${STRATA_STAC_TEST_DIR}/test_${script}.py)
  set_tests_properties(stac_${script} PROPERTIES
    ENVIRONMENT "${STRATA_TEST_ENV}"
    LABELS stac
    TIMEOUT 120)
endforeach()

# The C API: href callback, a meta from the JSON alone, the JSON round trip, errors.
add_executable(test_stac_api ${STRATA_STAC_TEST_DIR}/test_stac_api.c)
target_link_libraries(test_stac_api PRIVATE strata strata_test_fixtures GDAL::GDAL m)
add_test(NAME test_stac_api COMMAND test_stac_api)
set_tests_properties(test_stac_api PROPERTIES
  ENVIRONMENT "${STRATA_TEST_ENV}"
  LABELS stac
  TIMEOUT 60)

# strata_stac_search's argument errors and hidden header values, without a server.
add_executable(test_search_api ${STRATA_STAC_TEST_DIR}/test_search_api.c)
target_include_directories(test_search_api PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_search_api PRIVATE strata m)
add_test(NAME test_search_api COMMAND test_search_api)
set_tests_properties(test_search_api PROPERTIES
  ENVIRONMENT "${STRATA_TEST_ENV}"
  LABELS stac
  TIMEOUT 60)

# The parsers are compiled in (libstrata's symbols are hidden); they need no GDAL dataset.
# fuzz_stac: STAC documents (stac_parse.c); fuzz_stac_page: search response pages and their
# "next" links (stac_page.c).
set(_stac_src ${PROJECT_SOURCE_DIR}/src)
foreach(_target stac stac_page)
  set(_stac_fuzz_sources ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_${_target}.c ${_stac_src}/stac_parse.c
    ${_stac_src}/stac_page.c ${_stac_src}/error.c ${_stac_src}/timeparse.c ${_stac_src}/dtype.c)
  set(_stac_corpus ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/${_target})
  if(STRATA_BUILD_FUZZERS AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_${_target} ${_stac_fuzz_sources})
    target_compile_options(fuzz_${_target} PRIVATE -fsanitize=fuzzer,address,undefined -g)
    target_link_options(fuzz_${_target} PRIVATE -fsanitize=fuzzer,address,undefined)
    set(_stac_fuzz_exe fuzz_${_target})
    # New inputs go to a scratch corpus in the build tree; the committed seeds are read only.
    set(_work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus-${_target})
    add_test(NAME fuzz_${_target}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
              "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp"
              sh -c "mkdir -p '${_work}' && exec '$<TARGET_FILE:fuzz_${_target}>' -max_total_time=${STRATA_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${_work}' '${_stac_corpus}'")
    set_tests_properties(fuzz_${_target} PROPERTIES LABELS "fuzz;stac" TIMEOUT 120)
  else()
    add_executable(fuzz_${_target}_run ${_stac_fuzz_sources} ${STRATA_STAC_TEST_DIR}/fuzz_driver.c)
    set(_stac_fuzz_exe fuzz_${_target}_run)
    if(_target STREQUAL "stac")
      set(_name stac_fuzz_short)
    else()
      set(_name ${_target}_fuzz_short)
    endif()
    add_test(NAME ${_name} COMMAND fuzz_${_target}_run 8 ${_stac_corpus})
    set_tests_properties(${_name} PROPERTIES
      ENVIRONMENT "${STRATA_TEST_ENV}"
      LABELS "stac;fuzz"
      TIMEOUT 60)
  endif()
  target_include_directories(${_stac_fuzz_exe} PRIVATE ${_stac_src} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${_stac_fuzz_exe} PRIVATE GDAL::GDAL PkgConfig::JANSSON hdf5::hdf5 Threads::Threads m)
endforeach()
