moat_unit_test(obs metrics DEPS obs util)
