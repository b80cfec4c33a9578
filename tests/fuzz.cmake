# libFuzzer target for the collection/meta JSON parsers (with -DSTRATA_BUILD_FUZZERS=ON and
# clang, see kerchunk.cmake): the library's sources are compiled into the target so that
# libFuzzer sees their coverage. Runs for STRATA_FUZZ_SECONDS from the committed corpus.
if(NOT STRATA_BUILD_FUZZERS OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  return()
endif()
file(GLOB _strata_sources ${PROJECT_SOURCE_DIR}/src/*.c)
# json: collection and meta JSON; geokeys: the GeoTIFF CRS tag reader (seeds: the TIFF corpus).
foreach(target json geokeys)
  set(_corpus ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/${target})
  if(target STREQUAL "geokeys")
    set(_corpus ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/tiff)
  endif()
  add_executable(fuzz_${target} ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_${target}.c ${_strata_sources})
  target_include_directories(fuzz_${target} PRIVATE ${PROJECT_SOURCE_DIR}/src
    ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined -g)
  target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${target} PRIVATE GDAL::GDAL PkgConfig::TIFF PkgConfig::DEFLATE
    PkgConfig::JANSSON PkgConfig::BLOSC PkgConfig::ZSTD ZLIB::ZLIB hdf5::hdf5 Threads::Threads m)
  set(_work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus-${target})
  add_test(NAME fuzz_${target}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp"
            sh -c "mkdir -p '${_work}' && exec '$<TARGET_FILE:fuzz_${target}>' -max_total_time=${STRATA_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${_work}' '${_corpus}'")
  set_tests_properties(fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
