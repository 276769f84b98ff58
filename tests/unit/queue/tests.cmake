moat_unit_test(queue queue DEPS queue config util)
# against a throw-away nats-server that tests/servers/nats.py starts (and
# stops and starts again for the reconnect case)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
moat_unit_test(queue jetstream DEPS queue config util LIBS pthread
    WRAPPER ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/servers/nats.py --run --)
# no nats-server here: the wrapper exits 77 (skipped), saying so
set_tests_properties(unit_queue_jetstream PROPERTIES TIMEOUT 180 LABELS "unit;queue;nats"
    SKIP_RETURN_CODE 77)
# not a test: the queue's latency, push rate and idle cost (bench/queue_bench.c);
# `make -C build queue_bench`, then run it under tests/servers/nats.py --run
add_executable(queue_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/queue_bench.c)
moat_variant_flags(queue_bench "")
target_link_libraries(queue_bench PRIVATE moat_queue moat_config moat_util Threads::Threads)
