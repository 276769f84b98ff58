moat_unit_test(queue queue DEPS queue config util)
