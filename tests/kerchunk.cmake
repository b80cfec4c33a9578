# kerchunk indexer tests: the CLI's reference files opened with fsspec + zarr + xarray and
# compared, bit for bit, with python3-netcdf4 and GDAL reading the files (label "kerchunk").
# With -DSTRATA_BUILD_FUZZERS=ON and clang: libFuzzer targets for the TIFF and NetCDF3 header
# parsers, each run for 20 s from the committed corpus by a test labelled "fuzz".
option(STRATA_BUILD_FUZZERS "Build the libFuzzer targets (clang only)" OFF)

set(STRATA_KERCHUNK_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/kerchunk)
foreach(script netcdf geotiff corrupt nc3_types hdf5_cases crs concat)
  add_test(NAME kerchunk_${script}
           COMMAND ${STRATA_PYTHON} ${STRATA_KERCHUNK_TEST_DIR}/test_${script}.py)
  set_tests_properties(kerchunk_${script} PROPERTIES
    ENVIRONMENT "${STRATA_TEST_ENV}"
    LABELS kerchunk
    TIMEOUT 120)
endforeach()

if(NOT STRATA_BUILD_FUZZERS)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(STATUS "kerchunk: STRATA_BUILD_FUZZERS needs clang (have ${CMAKE_C_COMPILER_ID}); skipped")
  return()
endif()

set(STRATA_FUZZ_SECONDS 20 CACHE STRING "How long each fuzz test runs")
set(_kc_src ${PROJECT_SOURCE_DIR}/src)
foreach(target tiff nc3)
  # The parsers are compiled in (not linked from libstrata, whose symbols are hidden).
  add_executable(fuzz_${target} ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_${target}.c
    ${_kc_src}/kerchunk_${target}.c ${_kc_src}/kerchunk_util.c ${_kc_src}/error.c
    ${_kc_src}/encode.c)
  target_include_directories(fuzz_${target} PRIVATE ${_kc_src} ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined -g)
  target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${target} PRIVATE GDAL::GDAL PkgConfig::JANSSON PkgConfig::ZSTD
    ZLIB::ZLIB hdf5::hdf5 Threads::Threads m)
  # New inputs go to a scratch corpus in the build tree; the committed seeds are read only.
  set(_work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus-${target})
  add_test(NAME fuzz_${target}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            sh -c "mkdir -p '${_work}' && exec '$<TARGET_FILE:fuzz_${target}>' -max_total_time=${STRATA_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${_work}' '${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/${target}'")
  set_tests_properties(fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
