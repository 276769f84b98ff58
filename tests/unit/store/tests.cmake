moat_unit_test(store store DEPS store job config util)
moat_unit_test(store faults DEPS store job config util LIBS pthread ${LIB_SQLITE})
moat_unit_test(store identify DEPS store job config util LIBS ${LIB_SQLITE})
