# Thin wrapper over CMake. `make run` and `make test` are the two set-up
# commands of the README: both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test check-format tidy fuzz bench clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD) --target moat moat-server -j $(JOBS)

run: build
	./$(BUILD)/moat serve

# Builds every variant (release and ASan+UBSan), the unit tests and the fuzz
# replayers, then runs every test through ctest; the last line is ctest's.
test: configure
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure --timeout 600 -j $(CTEST_JOBS)

tidy: configure
	@scripts/tidy.sh $(BUILD)

fuzz: configure
	@tests/fuzz/run.sh $(BUILD) 60

bench: build
	@bench/sandbox.sh
	@bench/api.sh
	@bench/cluster.sh

clean:
	rm -rf $(BUILD)
