moat_fuzz_target(cgroup_parse DEPS sandbox util)
# the parsers are private to the sandbox module: "sandbox/cgroup-internal.h"
target_include_directories(fuzz_cgroup_parse_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
