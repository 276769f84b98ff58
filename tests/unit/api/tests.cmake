moat_unit_test(api decode DEPS api job lang sandbox config util LIBS ${LIB_JANSSON})
moat_unit_test(api render DEPS api job config util LIBS ${LIB_JANSSON})
moat_unit_test(api piston DEPS api job lang sandbox config util LIBS ${LIB_JANSSON})
moat_unit_test(api judge0 DEPS api job lang sandbox config util LIBS ${LIB_JANSSON} ${LIB_ZIP})
