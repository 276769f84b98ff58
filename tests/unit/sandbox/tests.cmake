moat_unit_test(sandbox seccomp DEPS sandbox util LIBS pthread)
moat_unit_test(sandbox landlock DEPS sandbox util)
moat_unit_test(sandbox caps DEPS sandbox util)
# exit 77 (skipped): landlock when the kernel has no Landlock, or an ABI older
# than the newest the tests check (after running the rest); caps when not root
set_tests_properties(unit_sandbox_landlock PROPERTIES SKIP_RETURN_CODE 77)
set_tests_properties(unit_sandbox_caps PROPERTIES SKIP_RETURN_CODE 77
    LABELS "unit;sandbox;privileged")
moat_unit_test(sandbox cgroup_v1 DEPS sandbox util)
moat_unit_test(sandbox cgroup_v2 DEPS sandbox util)
moat_unit_test(sandbox cgroup_live DEPS sandbox util)
# needs root, exits 77 (skipped) without it; as root, no usable cgroup mount fails
set_tests_properties(unit_sandbox_cgroup_live PROPERTIES SKIP_RETURN_CODE 77 LABELS "unit;sandbox;privileged")
moat_unit_test(sandbox box DEPS sandbox util LIBS pthread)
# real boxes: needs root, exits 77 (skipped) without it
set_tests_properties(unit_sandbox_box PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
    LABELS "unit;sandbox;privileged")
moat_unit_test(sandbox pool DEPS sandbox util LIBS pthread)
# MOAT_TEST_LEAN: the lean binary a spawner may re-execute
set_tests_properties(unit_sandbox_pool PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
    LABELS "unit;sandbox;privileged"
    ENVIRONMENT "MOAT_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/unit/sandbox;MOAT_TEST_LEAN=$<TARGET_FILE:moat-asan>")
moat_unit_test(sandbox wire DEPS sandbox util)
moat_unit_test(sandbox seccomp_builtin DEPS sandbox util)
moat_unit_test(sandbox collect DEPS sandbox util)
set_tests_properties(unit_sandbox_collect PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
    LABELS "unit;sandbox;privileged")
moat_unit_test(sandbox seccomp_table DEPS sandbox util LIBS pthread)
moat_unit_test(sandbox probe DEPS sandbox util)
moat_unit_test(sandbox netns DEPS sandbox util)
# network namespaces made and dirtied: needs root, exits 77 (skipped) without it
set_tests_properties(unit_sandbox_netns PROPERTIES SKIP_RETURN_CODE 77
    LABELS "unit;sandbox;privileged")
