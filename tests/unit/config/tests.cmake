moat_unit_test(config load DEPS config util)
moat_unit_test(config validate DEPS config util)
moat_unit_test(config table DEPS config util)
moat_unit_test(config doc DEPS config util)
