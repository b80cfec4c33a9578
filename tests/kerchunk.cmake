# kerchunk indexer tests: the CLI's reference files opened with fsspec + zarr + xarray and
# compared, bit for bit, with python3-netcdf4 and GDAL reading the files (label "kerchunk").
# Their parsers are fuzzed by tests/fuzz.cmake.

set(STRATA_KERCHUNK_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/kerchunk)
foreach(script netcdf geotiff corrupt nc3_types hdf5_cases crs concat remote)
  add_test(NAME kerchunk_${script}
           COMMAND ${STRATA_PYTHON} ${STRATA_KERCHUNK_TEST_DIR}/test_${script}.py)
  set_tests_properties(kerchunk_${script} PROPERTIES
    ENVIRONMENT "${STRATA_TEST_ENV}"
    LABELS kerchunk
    TIMEOUT 120)
endforeach()

