moat_unit_test(notify addr DEPS notify job config util)
moat_unit_test(notify sign DEPS notify job config util)
