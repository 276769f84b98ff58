moat_fuzz_target(judge0_decode DEPS api job lang config util LIBS ${LIB_JANSSON})
# the decoder is private to the api module: "api/judge0-internal.h"
target_include_directories(fuzz_judge0_decode_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
