moat_unit_test(lang registry DEPS lang config util)
moat_unit_test(lang template DEPS lang config util)
moat_unit_test(lang host DEPS lang config util)
moat_unit_test(lang policy DEPS lang config util)
