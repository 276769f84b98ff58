moat_unit_test(store store DEPS store job config util LIBS pthread)
moat_unit_test(store faults DEPS store job config util LIBS pthread ${LIB_SQLITE})
moat_unit_test(store identify DEPS store job config util LIBS ${LIB_SQLITE})
# against a throw-away PostgreSQL that the wrapper starts (and stops)
moat_unit_test(store postgres DEPS store job config util LIBS pthread PkgConfig::PQ
    WRAPPER python3 ${PROJECT_SOURCE_DIR}/tests/servers/postgres.py --run --)
set_tests_properties(unit_store_postgres PROPERTIES LABELS "unit;store;postgres" TIMEOUT 300
    SKIP_RETURN_CODE 77)
