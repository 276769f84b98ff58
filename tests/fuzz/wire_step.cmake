moat_fuzz_target(wire_step DEPS sandbox util)
# the wire format is private to the sandbox module: "sandbox/box-internal.h"
target_include_directories(fuzz_wire_step_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
