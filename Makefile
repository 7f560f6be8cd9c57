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

.PHONY: all build run test deps test-deps bench asan format clean

all: build

deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps test

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/siteplane serve --manifests $(MANIFESTS) --state $(STATE_DIR)

test: test-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo SANITIZE=address,undefined

bench: build
	@scripts/install-deps bench
	bench/run-all

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) build-asan
