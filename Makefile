# Morgana: `make` builds everything, `make test` builds and runs every test, `make run`
# boots the flagship example, the website. All three wrap CMake + Ninja in ./build.
BUILD ?= build
CMAKE ?= cmake

.PHONY: all build deps test test-long run install clean format bench

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

# The heavy runs (network soak, 100 MiB interop transfers, 5-minute fuzzing): see the
# script. Not part of `make test`.
test-long: deps
	scripts/run-long-tests

# Boots examples/website on morgana-hvt with user-mode networking (no root): prints
# "Serving http://127.0.0.1:8080" once the site answers; Ctrl-C stops it.
run: deps $(BUILD)/build.ninja
	$(CMAKE) --build $(BUILD) --target morgana-hvt website.hvt
	scripts/run-website $(BUILD)

# Installs the SDK an application outside the tree builds against (docs/guide.md): the
# morgana command, morgana-hvt, headers, libraries and the CMake package, under
# /usr/local or PREFIX=DIR.
install: build
	$(CMAKE) --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

bench: deps build
	bench/boot/run

clean:
	rm -rf $(BUILD) $(BUILD)-asan
