moat_unit_test(job names DEPS job config util)
moat_unit_test(job bytes DEPS job config util)
moat_unit_test(job step_json DEPS job config util)
moat_unit_test(job record DEPS job config util)
