# strata under mpirun (only when built with MPI).
if(STRATA_WITH_MPI)
  add_test(NAME mpi_ranks COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_mpi.sh)
  set_tests_properties(mpi_ranks PROPERTIES ENVIRONMENT "${STRATA_TEST_ENV}" LABELS mpi
    TIMEOUT 600 RUN_SERIAL TRUE)
endif()
