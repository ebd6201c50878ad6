# The two commands a new user needs (see README):
#   make run    install what is missing, build, and serve ./cairn-data on 127.0.0.1:8080
#   make test   install what is missing, build, and run every test
# Others: make build, make bench, make asan, make tsan, make format, make clean.

BUILD ?= build
TYPE  ?= RelWithDebInfo
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: run test build configure bench asan tsan format format-check clean unit node

configure:
	@scripts/setup.sh build
	@if [ ! -f $(BUILD)/build.ninja ]; then \
	  cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_FLAGS); fi

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/src/cli/cairn serve $(ARGS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

node: build
	@scripts/setup.sh test
	cd tests/node && CAIRN_BIN=$(abspath $(BUILD))/src/cli/cairn node --test --test-concurrency=1 --test-timeout=300000 test/*.test.mjs

test: build
	@scripts/setup.sh test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd tests/node && CAIRN_BIN=$(abspath $(BUILD))/src/cli/cairn node --test --test-concurrency=1 --test-timeout=300000 test/*.test.mjs

bench: build
	@scripts/setup.sh bench
	bench/run.sh

asan:
	$(MAKE) unit BUILD=build-asan TYPE=Debug CMAKE_FLAGS=-DCAIRN_SANITIZE=address,undefined

tsan:
	$(MAKE) unit BUILD=build-tsan TYPE=Debug CMAKE_FLAGS=-DCAIRN_SANITIZE=thread

format:
	find src tests -name '*.cc' -o -name '*.h' | xargs clang-format -i

format-check:
	find src tests -name '*.cc' -o -name '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-tsan
