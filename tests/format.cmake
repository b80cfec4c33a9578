# Sources follow the committed .clang-format.
find_program(STRATA_CLANG_FORMAT clang-format)
if(STRATA_CLANG_FORMAT)
  add_test(NAME format COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_format.sh ${PROJECT_SOURCE_DIR})
  set_tests_properties(format PROPERTIES LABELS format TIMEOUT 120)
endif()
