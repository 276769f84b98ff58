moat_unit_test(queue queue DEPS queue config util)
# against a throw-away nats-server that tests/servers/nats.py starts (and
# stops and starts again for the reconnect case)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
moat_unit_test(queue jetstream DEPS queue config util LIBS pthread
    WRAP ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/servers/nats.py --run --)
set_tests_properties(unit_queue_jetstream PROPERTIES TIMEOUT 180 LABELS "unit;queue;nats")
