moat_fuzz_target(notify_url DEPS notify job config util LIBS ${LIB_CURL})
