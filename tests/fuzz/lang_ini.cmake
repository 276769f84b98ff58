moat_fuzz_target(lang_ini DEPS lang config util)
