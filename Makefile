# The README's two commands are `make run` and `make test`; everything else is detail.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
# SANITIZE=address,undefined builds everything with ASan/UBSan (use its own BUILD_DIR).
SANITIZE   ?=
MANIFESTS  ?= manifests
STATE_DIR  ?= $(BUILD_DIR)/state

CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSITEPLANE_SANITIZE=$(SANITIZE)
ifneq ($(shell command -v ccache 2>/dev/null),)
CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
endif

# make fuzz: each libFuzzer target for FUZZ_SECONDS, one after the other (fuzz/README.md).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
FUZZ_DIR     ?= build-fuzz

.PHONY: all build run test deps test-deps test-tools bench asan asan-subset fuzz format format-check tidy clean

all: build

deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps test

# kube-apiserver, etcd, kubectl and helm for tests/kubernetes, built once from the pinned Go
# modules in scripts/go-tools and cached outside the work tree (scripts/test-cluster).
test-tools:
	@scripts/test-cluster tools >/dev/null

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/siteplane serve --manifests $(MANIFESTS) --state $(STATE_DIR)

test: test-deps test-tools format-check $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo SANITIZE=address,undefined

# What CI runs under ASan/UBSan when the whole `make asan` does not fit its time: every fuzz
# corpus replay and the data-plane end-to-end tests (the code that faces the network), in the
# same build-asan/ as `make asan`.
ASAN_SUBSET_TARGETS := fuzz_replay_http_request_parser fuzz_replay_static_path \
  fuzz_replay_tls_client_hello fuzz_replay_manifest_decoder fuzz_replay_api_body \
  dataplane_e2e_tests dataplane_harness siteplane
asan-subset: test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSITEPLANE_SANITIZE=address,undefined \
	  $(filter -DCMAKE_CXX_COMPILER_LAUNCHER=%,$(CMAKE_FLAGS))
	cmake --build build-asan -j $(JOBS) --target $(ASAN_SUBSET_TARGETS)
	cd build-asan && ctest --output-on-failure -R '^fuzz_replay\.' --timeout 300
	build-asan/tests/e2e/dataplane/dataplane_e2e_tests

# clang (libFuzzer) with ASan+UBSan, in its own build dir; only the fuzz targets and the
# libraries they exercise are built. -Werror stays with the g++ build: clang-only warnings must
# not stop a fuzzing run.
fuzz:
	@scripts/install-deps fuzz
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DSITEPLANE_FUZZ=ON -DSITEPLANE_SANITIZE=address,undefined -DSITEPLANE_WERROR=OFF \
	  $(filter -DCMAKE_CXX_COMPILER_LAUNCHER=%,$(CMAKE_FLAGS))
	cmake --build $(FUZZ_DIR) -j $(JOBS)
	fuzz/run-fuzzers $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	@scripts/install-deps bench
	bench/run-all

# Every C++ file as .clang-format lays it out; `make test` starts with the check, so a change
# that is not formatted fails before anything is built. `make format` fixes it.
CXX_SOURCES = $$(git ls-files '*.cc' '*.h')
format:
	clang-format -i $(CXX_SOURCES)

format-check: test-deps
	@clang-format --dry-run --Werror $(CXX_SOURCES) || \
	  { echo "format-check: the files above are not formatted; run: make format" >&2; exit 1; }

# clang-tidy with the small set of checks in .clang-tidy (bug patterns, needless copies, override),
# every product source file, as errors. Not part of `make test` (it costs about a build); run it
# before a large change lands.
tidy: build
	@scripts/install-deps tidy
	git ls-files 'common/*.cc' 'controller/*.cc' 'dataplane/*.cc' 'cli/*.cc' 'server/*.cc' | \
	  xargs -P $(JOBS) -n 4 clang-tidy -p $(BUILD_DIR) --quiet --extra-arg=-Wno-unknown-warning-option

clean:
	rm -rf $(BUILD_DIR) build-asan $(FUZZ_DIR)
