moat_fuzz_target(judge0_decode DEPS api job lang sandbox config util LIBS ${LIB_JANSSON} ${LIB_ZIP})
# the decoder is private to the api module: "api/judge0-internal.h"
target_include_directories(fuzz_judge0_decode_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
