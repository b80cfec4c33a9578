# CLI tests: tests/cli/*.sh, each run with bash against the strata binary (STRATA_CLI).
file(GLOB STRATA_CLI_TESTS ${CMAKE_CURRENT_LIST_DIR}/cli/*.sh)
foreach(script ${STRATA_CLI_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli_${name} COMMAND bash ${script})
  set_tests_properties(cli_${name} PROPERTIES
    LABELS cli
    TIMEOUT 300
    ENVIRONMENT "${STRATA_TEST_ENV}")
endforeach()
