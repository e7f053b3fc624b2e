# SPDX-License-Identifier: Apache-2.0
# Purpose: the two commands of the README. `make demo`: install, build, run the demo.
# `make test`: install, build with warnings as errors, run every test, then again under ASan+UBSan.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
DEMO_OUT ?= demo-out

.PHONY: deps build demo test test-release test-asan format clean

deps:
	tools/install_deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DATROUS_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/atrous demo --out $(DEMO_OUT)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The sanitizer variant: the same suite built with -fsanitize=address,undefined, less the tests
# labelled `slow` (shipped-model accuracy and the real-SLURM job: whole-model runs at -O0 that the
# release pass already covers).
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DATROUS_WERROR=ON -DATROUS_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j$(JOBS) -LE slow

test: test-release test-asan

format:
	find pipeline stages tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEMO_OUT)
