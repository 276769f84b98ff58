moat_unit_test(util parse DEPS util)
moat_unit_test(util buf DEPS util)
moat_unit_test(util ids DEPS util)
