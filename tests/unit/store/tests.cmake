moat_unit_test(store store DEPS store job config util)
