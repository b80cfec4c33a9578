# The README's C example, compiled against the installed library (so the README stays true).
add_test(NAME readme_example
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/readme_example.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
          "${STRATA_SANITIZE}")
set_tests_properties(readme_example PROPERTIES ENVIRONMENT "${STRATA_TEST_ENV}" LABELS example
  TIMEOUT 120)
