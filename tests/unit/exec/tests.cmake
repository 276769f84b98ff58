moat_unit_test(exec service DEPS exec store queue obs sandbox lang job config util LIBS pthread)
# real boxes: needs root, exits 77 (skipped) without it
set_tests_properties(unit_exec_service PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
    LABELS "unit;exec;privileged")
moat_unit_test(exec cache DEPS exec sandbox lang job config util LIBS pthread)
# the box tests need root: without it the others run, then exit 77 (skipped)
set_tests_properties(unit_exec_cache PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
    LABELS "unit;exec;privileged")
