# Zarr writer tests: stores from `strata to-zarr` read back by zarr-python, xarray +
# rioxarray and GDAL (v2), and by zarrita.js (v3, installed with npm on first use).
set(STRATA_ZARR_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/zarr)
add_test(NAME zarr_readers COMMAND ${STRATA_PYTHON} ${STRATA_ZARR_TEST_DIR}/test_zarr.py)
add_test(NAME zarr_v3_zarrita COMMAND ${STRATA_PYTHON} ${STRATA_ZARR_TEST_DIR}/test_zarr_v3.py)
set_tests_properties(zarr_readers zarr_v3_zarrita PROPERTIES
  ENVIRONMENT "${STRATA_TEST_ENV};ZARRITA_DIR=${CMAKE_CURRENT_BINARY_DIR}/zarrita-node"
  LABELS "oracle;zarr"
  TIMEOUT 300)
# groupby -o X.zarr and anomaly: 365 groups against xarray's groupby and numpy.
add_test(NAME zarr_groups COMMAND ${STRATA_PYTHON} ${STRATA_ZARR_TEST_DIR}/test_groups.py)
set_tests_properties(zarr_groups PROPERTIES ENVIRONMENT "${STRATA_TEST_ENV}"
  LABELS "oracle;zarr" TIMEOUT 300)
