# STAC source tests (label "stac"): items written by the tests point at COGs written by the
# tests, served by tests/stac/http_server.py on 127.0.0.1 (Range requests, optional 503s);
# every result is compared with the same files read with from-files.
# The STAC parsers are fuzzed by tests/fuzz.cmake, in every build.

set(STRATA_STAC_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/stac)
foreach(script read input errors search mismatch grid remote)
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

