# Thin wrapper over CMake. `make run` and `make test` are the two set-up
# commands of the README: both install what is missing first; `make run`
# only what building and running need, `make test` the tests' tools too.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(shell nproc)
CMAKE_CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps deps-run configure configure-run build run test tidy fuzz bench deb \
	install clean

all: build

deps:
	@scripts/deps.sh test

deps-run:
	@scripts/deps.sh run

# A build tree made by `make run` has no tests (their tools may be missing);
# `make test` turns them on in the same tree.
configure-run: deps-run
	@test -f $(BUILD)/CMakeCache.txt || $(CMAKE_CONFIGURE) -DBUILD_TESTING=OFF >/dev/null

configure: deps
	@$(CMAKE_CONFIGURE) -DBUILD_TESTING=ON >/dev/null

build: configure-run
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

# The Debian package (CPack): $(BUILD)/moat_<version>_amd64.deb.
deb: configure
	@cmake --build $(BUILD) --target moat moat-server -j $(JOBS)
	@cd $(BUILD) && cpack -G DEB

# Installs under PREFIX (/usr/local): the binaries, languages.ini, the
# manual pages; /etc/moat/moat.ini and /var/lib/moat.
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
