moat_fuzz_target(job_wire DEPS job config util LIBS ${LIB_JANSSON})
