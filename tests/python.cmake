# The Python package (python/): pytest over tests/python (one module per area), against the
# package in the build tree. Under ASan the extension needs the runtime loaded first, and
# libstdc++ with it (GDAL's PROJ throws C++ exceptions ASan must intercept); Python's own
# allocations are not ours to leak-check.
if(TARGET strata_python)
  set(STRATA_PY_TEST_ENV ${STRATA_TEST_ENV}
    "PYTHONPATH=${CMAKE_BINARY_DIR}/python"
    "PYTHONDONTWRITEBYTECODE=1"
    "STRATA_PYTHON_EXAMPLES=${PROJECT_SOURCE_DIR}/python/examples")
  if(STRATA_SANITIZE MATCHES "address")
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
      OUTPUT_VARIABLE STRATA_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libstdc++.so
      OUTPUT_VARIABLE STRATA_LIBSTDCXX OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND STRATA_PY_TEST_ENV "LD_PRELOAD=${STRATA_LIBASAN} ${STRATA_LIBSTDCXX}"
      "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0")
  endif()
  # One interpreter for every module: importing numpy, xarray and dask under ASan costs
  # seconds, paid once.
  add_test(NAME python
    COMMAND ${STRATA_PYTHON} -m pytest -q -p no:cacheprovider --durations=5
            ${CMAKE_CURRENT_SOURCE_DIR}/python
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/python)
  set_tests_properties(python PROPERTIES ENVIRONMENT "${STRATA_PY_TEST_ENV}"
    LABELS python TIMEOUT 600)
endif()
