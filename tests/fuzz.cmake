# Every fuzzer of strata's parsers of outside text, registered here and nowhere else.
# With -DSTRATA_BUILD_FUZZERS=ON and clang each is a libFuzzer target, run for
# STRATA_FUZZ_SECONDS from its committed corpus by a test labelled "fuzz" (new inputs go to a
# scratch corpus in the build tree; the committed seeds are read only). In other builds the
# parsers that need no GDAL dataset run under a small mutation driver (tests/fuzz/driver.c) for
# a few seconds, so every build fuzzes them a little. The library's sources are compiled into
# each target (libstrata's symbols are hidden, and libFuzzer wants their coverage).
option(STRATA_BUILD_FUZZERS "Build the libFuzzer targets (clang only)" OFF)
set(STRATA_FUZZ_SECONDS 20 CACHE STRING "How long each fuzz test runs")
set(_libfuzzer OFF)
if(STRATA_BUILD_FUZZERS)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(_libfuzzer ON)
  else()
    message(STATUS "STRATA_BUILD_FUZZERS needs clang (have ${CMAKE_C_COMPILER_ID}); short runs only")
  endif()
endif()

set(_src ${PROJECT_SOURCE_DIR}/src)
file(GLOB_RECURSE _all_sources ${_src}/*.c)
set(_fuzz_libs GDAL::GDAL PkgConfig::TIFF PkgConfig::DEFLATE PkgConfig::CURL PkgConfig::JANSSON PkgConfig::BLOSC
  PkgConfig::ZSTD ZLIB::ZLIB hdf5::hdf5 Threads::Threads m)

# "fuzzers" builds the libFuzzer targets, and nothing else (setup.sh's fuzz build).
add_custom_target(fuzzers)
# strata_fuzzer(NAME CORPUS DIR [SHORT TEST_NAME] SOURCES ...)
function(strata_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS;SHORT" "SOURCES" ${ARGN})
  set(_corpus ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/${ARG_CORPUS})
  set(_main ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_${name}.c)
  if(_libfuzzer)
    set(_exe fuzz_${name})
    add_executable(${_exe} ${_main} ${ARG_SOURCES})
    add_dependencies(fuzzers ${_exe})
    target_compile_options(${_exe} PRIVATE -fsanitize=fuzzer,address,undefined -g)
    target_link_options(${_exe} PRIVATE -fsanitize=fuzzer,address,undefined)
    set(_work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus-${name})
    add_test(NAME fuzz_${name}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
              "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp"
              sh -c "mkdir -p '${_work}' && exec '$<TARGET_FILE:${_exe}>' -max_total_time=${STRATA_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${_work}' '${_corpus}'")
    set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz TIMEOUT 120)
  elseif(ARG_SHORT)
    set(_exe fuzz_${name}_run)
    add_executable(${_exe} ${_main} ${ARG_SOURCES} ${CMAKE_CURRENT_LIST_DIR}/fuzz/driver.c)
    add_test(NAME ${ARG_SHORT} COMMAND ${_exe} 8 ${_corpus})
    set_tests_properties(${ARG_SHORT} PROPERTIES ENVIRONMENT "${STRATA_TEST_ENV}"
      LABELS "stac;fuzz" TIMEOUT 60)
  else()
    return()
  endif()
  target_include_directories(${_exe} PRIVATE ${_src} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${_exe} PRIVATE ${_fuzz_libs})
endfunction()

# The fuzzers that need the whole library share one compiled copy of it.
set(_library ${_all_sources})
if(_libfuzzer)
  add_library(strata_fuzz_library OBJECT ${_all_sources})
  target_include_directories(strata_fuzz_library PRIVATE ${_src} ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(strata_fuzz_library PRIVATE -fsanitize=fuzzer-no-link,address,undefined -g)
  target_link_libraries(strata_fuzz_library PRIVATE ${_fuzz_libs})
  set(_library $<TARGET_OBJECTS:strata_fuzz_library>)
endif()
# The collection and meta JSON.
strata_fuzzer(json CORPUS json SOURCES ${_library})
# The GeoTIFF tags read from each file's first IFD (seeds: the TIFF corpus).
strata_fuzzer(geokeys CORPUS tiff SOURCES ${_library})
# The kerchunk indexer's TIFF/BigTIFF and NetCDF3 header parsers.
foreach(format tiff nc3)
  strata_fuzzer(${format} CORPUS ${format} SOURCES ${_src}/kerchunk/kerchunk_${format}.c
    ${_src}/kerchunk/kerchunk_util.c ${_src}/common/error.c ${_src}/common/encode.c
    ${_src}/common/bytes.c ${_src}/common/tiff_ifd.c ${_src}/common/log.c)
endforeach()
# A remote GeoTIFF's header as a server sends it, and the decoding of its blocks.
strata_fuzzer(rtiff CORPUS tiff SOURCES ${_src}/source/rtiff.c ${_src}/common/error.c
  ${_src}/common/log.c ${_src}/common/bytes.c ${_src}/common/tiff_ifd.c)
# STAC documents, and STAC API search pages with their "next" links.
set(_stac_sources ${_src}/stac/stac_parse.c ${_src}/stac/stac_page.c ${_src}/common/error.c
  ${_src}/common/log.c ${_src}/common/timeparse.c ${_src}/common/dtype.c)
strata_fuzzer(stac CORPUS stac SHORT stac_fuzz_short SOURCES ${_stac_sources})
strata_fuzzer(stac_page CORPUS stac_page SHORT stac_page_fuzz_short SOURCES ${_stac_sources})
