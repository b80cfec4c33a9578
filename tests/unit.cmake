# C unit tests: one executable per test_X.c, each a ctest test labelled "unit".
# test_cache also carries the label "tsan": the ThreadSanitizer build (-DSTRATA_SANITIZE=thread)
# runs it with `ctest -L tsan`.
add_library(strata_test_fixtures STATIC ${CMAKE_CURRENT_LIST_DIR}/fixtures.c)
target_include_directories(strata_test_fixtures PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(strata_test_fixtures PUBLIC strata GDAL::GDAL m)

# "tsan_tests" builds what `ctest -L tsan` runs, and nothing else (setup.sh's TSan build).
add_custom_target(tsan_tests)
function(strata_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;LIBS" ${ARGN})
  if(NOT EXISTS ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
    return()
  endif()
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE strata strata_test_fixtures GDAL::GDAL Threads::Threads m
                        ${ARG_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  set(ARG_LABELS_SEP "")
  if(ARG_LABELS)
    set(ARG_LABELS_SEP ";")
  endif()
  if("tsan" IN_LIST ARG_LABELS)
    add_dependencies(tsan_tests ${name})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  set_tests_properties(${name} PROPERTIES
    LABELS "unit${ARG_LABELS_SEP}${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "${STRATA_TEST_ENV}")
endfunction()

strata_unit_test(test_meta LIBS PkgConfig::JANSSON)
strata_unit_test(test_collection LIBS PkgConfig::JANSSON)
strata_unit_test(test_read)
strata_unit_test(test_cache LABELS tsan TIMEOUT 120)
strata_unit_test(test_reduce_api LABELS tsan TIMEOUT 120)
strata_unit_test(test_fault TIMEOUT 120)
strata_unit_test(test_grid)
strata_unit_test(test_api)
