# Oracle tests: the strata CLI checked against numpy, GDAL's Python bindings and xarray (+flox).
# Each script prints "N passed, M failed" and exits non-zero on any failure; it fails loudly
# (never skips) when the CLI or a Python module is missing.
set(STRATA_ORACLE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/oracle)
foreach(script reduce groupby realdata quantile grid)
  add_test(NAME oracle_${script}
           COMMAND ${STRATA_PYTHON} ${STRATA_ORACLE_DIR}/test_${script}.py)
  set_tests_properties(oracle_${script} PROPERTIES
    ENVIRONMENT "${STRATA_TEST_ENV}"
    LABELS oracle
    TIMEOUT 300)
endforeach()
