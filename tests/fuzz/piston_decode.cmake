moat_fuzz_target(piston_decode DEPS api job lang sandbox config util LIBS ${LIB_JANSSON})
# the decoder is private to the api module: "api/api-internal.h"
target_include_directories(fuzz_piston_decode_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
