# Morgana: `make` builds everything, `make test` builds and runs every test, `make run`
# boots the flagship example. All three wrap CMake + Ninja in ./build.
BUILD ?= build
CMAKE ?= cmake

.PHONY: all build deps test run install clean format bench

all: build

$(BUILD)/build.ninja:
	$(CMAKE) -S . -B $(BUILD) -G Ninja

build: $(BUILD)/build.ninja
	$(CMAKE) --build $(BUILD)

deps:
	scripts/install-deps

# Builds everything (plus a sanitizer build of the host unit tests) and runs all tests.
test: deps
	scripts/run-tests

# Boots examples/hello on morgana-hvt (the website example replaces it later).
run: deps build
	$(BUILD)/bin/morgana run -t hvt examples/hello -- "Hello from Morgana"

install: build
	$(CMAKE) --install $(BUILD)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

bench: deps build
	bench/boot/run

clean:
	rm -rf $(BUILD) $(BUILD)-asan
