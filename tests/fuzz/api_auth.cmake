moat_fuzz_target(api_auth DEPS api job lang sandbox config util LIBS ${LIB_JANSSON})
# the rules are private to the api module: "api/auth.h"
target_include_directories(fuzz_api_auth_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
