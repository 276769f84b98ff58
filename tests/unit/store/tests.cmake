moat_unit_test(store store DEPS store job config util)
moat_unit_test(store identify DEPS store job config util LIBS ${LIB_SQLITE})
