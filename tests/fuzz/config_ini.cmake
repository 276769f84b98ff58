moat_fuzz_target(config_ini DEPS config util)
