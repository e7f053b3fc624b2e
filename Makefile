# SPDX-License-Identifier: Apache-2.0
# Purpose: the two commands of the README. `make demo`: install, build, run the demo.
# `make test`: install, build with warnings as errors, run every test, then the MPI-free build's
# under ASan+UBSan, the threaded tests under TSan, and each fuzz target for FUZZ_RUNS inputs.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
NOMPI_BUILD ?= build-nompi
FUZZ_SECONDS ?= 90
# A fixed seed: every run tries the same inputs in the same order (FUZZ_SEED=0: a random seed).
FUZZ_SEED ?= 1
# Inputs per fuzz target: roughly 30 s each on one core of the CI machine kind.
FUZZ_RUNS ?= config=150000 model_config=200000 keras_h5=5000
DEMO_OUT ?= demo-out

.PHONY: deps build demo test test-release test-nompi test-asan test-tsan fuzz format clean

deps:
	tools/install_deps.sh

build: deps
	cmake --preset release -B $(BUILD)
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/atrous demo --out $(DEMO_OUT)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The single-process build (-DATROUS_MPI=OFF, serial HDF5, no MPI library) without sanitizers:
# every unit test (the dispenser and blend exchange over in-process ranks included) and the
# end-to-end tests of one process. Not part of `make test`: the ASan pass below builds and tests
# the same MPI-free configuration.
test-nompi: deps
	cmake --preset nompi -B $(NOMPI_BUILD)
	cmake --build $(NOMPI_BUILD) -j$(JOBS)
	cd $(NOMPI_BUILD) && ctest --output-on-failure -j$(JOBS) -LE "slow|e2e"
	cd $(NOMPI_BUILD) && ctest --output-on-failure -j$(JOBS) \
	    -R "^(e2e\.(run_geotiff|demo|install_demo|classifier|mpi_refused)|resume\.(kill_resume|signals))$$"

# The sanitizer variant, and CI's MPI-free build: -DATROUS_MPI=OFF (serial HDF5, one process,
# `mpirun` refused) built with -fsanitize=address,undefined; every test it builds (the MPI and
# SLURM ones exist only with MPI: the release pass runs them) less those labelled `slow`
# (shipped-model accuracy: whole-model runs at -O0 that the release pass already covers).
test-asan: deps
	cmake --preset asan -B $(ASAN_BUILD)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j$(JOBS) -LE slow

# ThreadSanitizer over the tests labelled `threaded` (the runner's pipeline and its threads,
# concurrent reads, parallel model runs), less `slow`, built into atrous_threaded_tests (only
# their files: tests/CMakeLists.txt). tests/tsan.supp says what TSan cannot
# check with Debian's uninstrumented libtbb (races inside TBB tasks) and why.
test-tsan: deps
	cmake --preset tsan -B $(TSAN_BUILD)
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target atrous_threaded_tests
	cd $(TSAN_BUILD) && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
	    ctest --output-on-failure -j$(JOBS) -L threaded -LE slow

# libFuzzer (clang): each target for a count of inputs (FUZZ_RUNS, not a time: with the fixed seed
# CI tries the same inputs as a local run, on any machine speed; FUZZ_SECONDS only caps the time),
# starting from its committed corpus and regressions (read only; new inputs go to
# $(FUZZ_BUILD)/work/); fails on the first crash, leak, hang (> 10 s) or 2 GiB of resident memory.
# A corrupt HDF5 file can make libhdf5 itself ask malloc for 2^56 bytes: allocator_may_return_null
# hands it NULL as a production malloc would (libhdf5 then fails, and the target checks that this
# reaches the caller as an atrous::Error) instead of ASan calling libhdf5's request a crash.
# A failing input lands in $(FUZZ_BUILD)/artifacts/<target>/: fix the bug, then commit the input
# to tests/fuzz/regressions/<target>/.
fuzz: deps
	cmake --preset fuzz -B $(FUZZ_BUILD)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(foreach r,$(FUZZ_RUNS),$(firstword $(subst =, ,$(r)))_fuzz)
	set -e; for r in $(FUZZ_RUNS); do \
	    t=$${r%%=*}; n=$${r#*=}; \
	    rm -rf $(FUZZ_BUILD)/work/$$t; mkdir -p $(FUZZ_BUILD)/work/$$t $(FUZZ_BUILD)/artifacts/$$t; \
	    echo "fuzz: $$t, $$n inputs (at most $(FUZZ_SECONDS) s)"; \
	    ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=65536 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0 \
	    $(FUZZ_BUILD)/tests/fuzz/$${t}_fuzz -runs=$$n -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) \
	        -rss_limit_mb=2048 -malloc_limit_mb=65536 -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	        $(FUZZ_BUILD)/work/$$t tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t \
	        > $(FUZZ_BUILD)/$$t.log 2>&1 \
	        || { tail -n 60 $(FUZZ_BUILD)/$$t.log; echo "fuzz: $$t FAILED (log: $(FUZZ_BUILD)/$$t.log)"; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_BUILD)/$$t.log || true; \
	done

test: test-release test-asan test-tsan fuzz

format:
	find pipeline stages tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(NOMPI_BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(DEMO_OUT)
