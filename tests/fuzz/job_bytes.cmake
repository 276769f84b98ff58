moat_fuzz_target(job_bytes DEPS job config util LIBS ${LIB_JANSSON})
