# Sources follow the committed .clang-format and the layers of docs/ARCHITECTURE.md.
find_program(STRATA_CLANG_FORMAT clang-format)
if(STRATA_CLANG_FORMAT)
  add_test(NAME format COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_format.sh ${PROJECT_SOURCE_DIR})
  set_tests_properties(format PROPERTIES LABELS format TIMEOUT 120)
endif()

# The include rules of docs/ARCHITECTURE.md ("Layers"), and a check that a violation is seen.
add_test(NAME layers_self_test COMMAND ${STRATA_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/layers/check_layers.py --self-test)
add_test(NAME layers COMMAND ${STRATA_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/layers/check_layers.py ${PROJECT_SOURCE_DIR})
set_tests_properties(layers layers_self_test PROPERTIES LABELS format TIMEOUT 60)
