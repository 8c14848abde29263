# iomodels: one GNU Makefile for every binary. `make help` lists the targets.
#
#   make                     build every binary into bin/
#   make deps                install the Debian packages the suite needs (no-op when present)
#   make test                build, then run every test; ends with "N passed, N failed"
#   make compare             run the comparison (results/<timestamp>/)
#   make SAN=address,undefined test    the same under sanitizers, in build-san-address_undefined/ and bin-san-.../
#   make SAN=thread test     the multi-threaded servers, loadgen and compare under ThreadSanitizer
#   make fuzz                libFuzzer harnesses (clang-16) for 60 s each in build-fuzz/; FUZZ_SECONDS=N to change
#   make V=1                 show the compiler command lines

SAN ?=
comma := ,
empty :=
space := $(empty) $(empty)
ifeq ($(SAN),)
BUILD_DIR ?= build
BIN_DIR ?= bin
else
# ---- sanitizer folders: each sanitizer set builds apart (ASan and TSan objects must never link together) ----
SAN_TAG := $(subst $(comma),_,$(SAN))
BUILD_DIR ?= build-san-$(SAN_TAG)
BIN_DIR ?= bin-san-$(SAN_TAG)
endif

NPROC := $(shell nproc 2>/dev/null || echo 2)
CXX ?= g++
CC ?= gcc
OPT ?= -O2
CXXFLAGS ?= $(OPT) -g
CFLAGS ?= $(OPT) -g
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INCLUDE := /usr/share/include/llhttp
override CXXFLAGS += -std=c++20 -Wall -Wextra -Wshadow -pthread -MMD -MP -I. -isystem $(LLHTTP_INCLUDE) \
                    -I$(BUILD_DIR)/gen
override CFLAGS += -pthread -MMD -MP -isystem $(LLHTTP_INCLUDE)
override LDFLAGS += -pthread
ifneq ($(SAN),)
# GCC 12 reports false -Wmaybe-uninitialized positives inside <regex> (used by cxxopts) only under sanitizers.
# UBSan's vptr check needs a free descriptor (it calls pipe(2)), so it misfires in the tests that exhaust them.
override CXXFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all -Wno-maybe-uninitialized \
                     -fno-sanitize=vptr
override CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SAN)
endif

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

# ---- binaries ------------------------------------------------------------------------------------------
# Every `server` row of models.txt is a binary: bin/NAME from its main source, linked with its libraries. A model
# joins the build (and the tests and the comparison) by its row there; docs/DESIGN.md says how to add one.
comma := ,
MODEL_ROWS := $(shell grep -v '^[[:space:]]*\#' models.txt | awk '$$2 == "server" { print $$1 "@" $$3 "@" $$7 }')
row_field = $(word $(2),$(subst @, ,$(1)))
SERVERS := $(foreach r,$(MODEL_ROWS),$(call row_field,$(r),1))
$(foreach r,$(MODEL_ROWS),$(eval main_$(call row_field,$(r),1) := $(call row_field,$(r),2)))
$(foreach r,$(MODEL_ROWS),$(eval libs_$(call row_field,$(r),1) := \
  $(addprefix -l,$(subst $(comma), ,$(filter-out -,$(call row_field,$(r),3))))))
main_loadgen          := client/main.cpp
main_compare          := compare/main.cpp

ALL_MAINS := $(foreach b,$(SERVERS) loadgen compare,$(main_$(b)))
BUILT_SERVERS := $(foreach b,$(SERVERS),$(if $(wildcard $(main_$(b))),$(b)))
TOOLS := $(foreach b,loadgen compare,$(if $(wildcard $(main_$(b))),$(b)))
BINARIES := $(addprefix $(BIN_DIR)/,$(BUILT_SERVERS) $(TOOLS))

# ---- the Python servers: the `python` rows of models.txt, run by Debian's python3 (it has gevent) -------------
# bin/NAME is a generated script that execs the row's script, so that compare and a reader start them like any other
# binary (and signals reach Python itself: exec keeps the pid).
PYTHON ?= /usr/bin/python3
PY_ROWS := $(shell grep -v '^[[:space:]]*\#' models.txt | awk '$$2 == "python" { print $$1 "@" $$3 }')
PY_SERVERS := $(foreach r,$(PY_ROWS),$(call row_field,$(r),1))
$(foreach r,$(PY_ROWS),$(eval script_$(call row_field,$(r),1) := $(call row_field,$(r),2)))
PY_BINARIES := $(addprefix $(BIN_DIR)/,$(PY_SERVERS))

obj = $(patsubst %.cpp,$(BUILD_DIR)/%.o,$(1))
# Sources of a folder that are not a binary's main are shared by that folder's binaries (blocking/ has one).
family_srcs = $(filter-out $(ALL_MAINS),$(wildcard $(dir $(1))*.cpp))

COMMON_SRCS := $(wildcard common/*.cpp)
COMMON_LIB := $(BUILD_DIR)/libiomodels.a
LLHTTP_OBJS := $(BUILD_DIR)/llhttp/api.o $(BUILD_DIR)/llhttp/http.o $(BUILD_DIR)/llhttp/llhttp.o
CLIENT_SRCS := $(filter-out client/main.cpp,$(wildcard client/*.cpp))
CLIENT_LIB := $(BUILD_DIR)/libloadgen.a
# zlib: the DEFLATE of HdrHistogram's compressed encoding (client/hdr_log.cpp).
CLIENT_LDLIBS := -lz
COMPARE_SRCS := $(filter-out compare/main.cpp,$(wildcard compare/*.cpp))
# Runs servers from the outside (the model list, starting, watching and measuring a process): compare and tests.
HARNESS_SRCS := $(wildcard harness/*.cpp)
HARNESS_LIB := $(BUILD_DIR)/libharness.a
# models.txt compiled in, as a raw string literal harness/models.cpp includes.
MODELS_INC := $(BUILD_DIR)/gen/models_table.inc

TEST_SRCS := $(wildcard tests/*.cpp)
TEST_BIN := $(BUILD_DIR)/tests/iomodels_tests
# Small deliberately faulty servers the tests drive the load generator and the comparison against.
FAKE_SRCS := $(wildcard tests/fake/*.cpp)
FAKE_BINS := $(patsubst tests/fake/%.cpp,$(BUILD_DIR)/tests/fake/%,$(FAKE_SRCS))

.PHONY: all deps test test-build compare clean help
# Keep the fake servers' objects: they are intermediate files to make, and relinking every time is noise.
.SECONDARY:
all: $(BINARIES) $(PY_BINARIES)

help:
	@sed -n '1,9p' Makefile

deps:
	$(Q)scripts/deps.sh

$(BUILD_DIR)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -w -c $< -o $@

$(BUILD_DIR)/%.o: %.cpp
	$(call say,CXX,$<)
	$(Q)mkdir -p $(@D) && $(CXX) $(CXXFLAGS) -c $< -o $@

$(COMMON_LIB): $(call obj,$(COMMON_SRCS)) $(LLHTTP_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLIENT_LIB): $(call obj,$(CLIENT_SRCS))
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(HARNESS_LIB): $(call obj,$(HARNESS_SRCS))
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(MODELS_INC): models.txt
	$(call say,GEN,$@)
	$(Q)mkdir -p $(@D) && { printf 'R"IOMODELS('; cat $<; printf ')IOMODELS"\n'; } > $@

$(call obj,harness/models.cpp): $(MODELS_INC)

define server_rule
$(BIN_DIR)/$(1): $(call obj,$(main_$(1)) $(call family_srcs,$(main_$(1)))) $(COMMON_LIB)
	$$(call say,LD,$$@)
	$(Q)mkdir -p $$(@D) && $$(CXX) $$(LDFLAGS) $$^ $(libs_$(1)) -o $$@
endef
$(foreach b,$(BUILT_SERVERS),$(eval $(call server_rule,$(b))))

define python_rule
$(BIN_DIR)/$(1): $(script_$(1)) python/server_support.py models.txt
	$$(call say,GEN,$$@)
	$(Q)mkdir -p $$(@D) && printf '#!/bin/sh\n# Generated by make from models.txt: the $(1) row.\nexec %s %s "$$$$@"\n' \
	    '$(PYTHON)' '$(CURDIR)/$(script_$(1))' >$$@ && chmod +x $$@
endef
$(foreach b,$(PY_SERVERS),$(eval $(call python_rule,$(b))))

$(BIN_DIR)/loadgen: $(call obj,client/main.cpp) $(CLIENT_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ $(CLIENT_LDLIBS) -o $@

$(BIN_DIR)/compare: $(call obj,compare/main.cpp $(COMPARE_SRCS)) $(HARNESS_LIB) $(CLIENT_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ $(CLIENT_LDLIBS) -o $@

$(BUILD_DIR)/tests/fake/%: $(BUILD_DIR)/tests/fake/%.o $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)$(CXX) $(LDFLAGS) $^ -o $@

$(TEST_BIN): $(call obj,$(TEST_SRCS) $(COMPARE_SRCS)) $(HARNESS_LIB) $(if $(CLIENT_SRCS),$(CLIENT_LIB)) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ $(CLIENT_LDLIBS) -lgtest -lgmock -o $@

# ASan's quarantine holds freed memory back for reuse, which the memory bounds of the backpressure tests would
# count as growth; a small quarantine keeps use-after-free detection and RSS honest.
TEST_ASAN_OPTIONS ?= quarantine_size_mb=1

# ---- ThreadSanitizer: what `make SAN=thread test` runs ----------------------------------------------------
# IOMODELS_SANITIZER tells the test fixture which sanitizer the binaries carry: under thread it skips the
# single-threaded servers (TSan has nothing to check in them, and its 5-15x slowdown would only cost CI time).
# halt_on_error makes a report fail the test that caused it: the server exits 66 and the fixture's stop check fails.
TSAN_TEST_OPTIONS ?= halt_on_error=1 exitcode=66 second_deadlock_stack=1
# The model-specific suites of single-threaded servers are left out the same way (the parameterized suites skip them
# in the fixture, tests/sanitizer_support.hpp), and so are the unit suites that start no thread (the session, the
# buffer, the loadgen's parsers), which the plain and ASan runs cover. Under TSan a shard needs more than 10 minutes.
TSAN_SKIPPED_SUITES := Aio*:BlockingFork*:BlockingPrefork*:Sigio*:Select*:Poll*:Nonblocking*:Libuv*:Epoll*:IoUring*:$\
                       AutoDetect.*:RawEcho.*:Backpressure.*:Http.*:Buffer.*:FuzzRegression.*:LoadgenResponseHead*:$\
                       LoadgenHistogram.*:LoadgenPayload.*:LoadgenCli*
TEST_SAN_ENV := IOMODELS_SANITIZER=$(SAN) $(if $(filter thread,$(subst $(comma), ,$(SAN))),TSAN_OPTIONS="$(TSAN_TEST_OPTIONS)")
TEST_ARGS ?= $(if $(filter thread,$(subst $(comma), ,$(SAN))),--gtest_filter=-$(subst $(space),,$(TSAN_SKIPPED_SUITES)))
TEST_SAN_ENV += $(if $(filter thread,$(subst $(comma), ,$(SAN))),TEST_TIMEOUT=$${TEST_TIMEOUT:-1800})

test-build: $(BINARIES) $(PY_BINARIES) $(TEST_BIN) $(FAKE_BINS)

# The quick-start targets install what a new machine lacks first, so the README's two commands suffice.
test: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) test-build
	$(Q)BIN_DIR=$(BIN_DIR) BUILD_DIR=$(BUILD_DIR) ASAN_OPTIONS=$(TEST_ASAN_OPTIONS) $(TEST_SAN_ENV) tests/run.sh $(TEST_BIN) $(TEST_ARGS)

compare: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)$(BIN_DIR)/compare $(COMPARE_ARGS)

# ---- fuzzing: libFuzzer harnesses in fuzz/, built by clang in build-fuzz/ (never mixed with g++'s objects) ------
# make fuzz runs each harness for FUZZ_SECONDS (default 60) from its checked-in seeds (fuzz/corpus/NAME) and a
# working corpus that grows in build-fuzz/corpus/NAME; a crash or an invariant violation stops it and leaves the
# input in build-fuzz/. FUZZ_ARGS passes more libFuzzer options (e.g. -runs=N, -jobs=N).
# FUZZ_FAST=1 builds in build-fuzz-fast/ without ASan and UBSan (coverage and the harnesses' own invariant checks
# only), about 4x the executions per second, for long campaigns; then replay what it found under the sanitizers:
#   make fuzz FUZZ_FAST=1 FUZZ_SECONDS=3600 && make fuzz-replay
FUZZ_CXX ?= clang++-16
FUZZ_CC ?= clang-16
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
# A smaller quarantine than ASan's 256 MiB: the session harness moves megabytes per input, and memory held back
# from reuse is fresh pages to fault in every time (use-after-free is still caught within 16 MiB of reuse).
FUZZ_ASAN_OPTIONS ?= quarantine_size_mb=16
ifeq ($(FUZZ_FAST),1)
FUZZ_DIR := build-fuzz-fast
FUZZ_SAN := -g -O2
else
FUZZ_DIR := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
endif
FUZZ_CXXFLAGS := -std=c++20 -Wall -Wextra -I. -isystem $(LLHTTP_INCLUDE) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP
FUZZERS := session_fuzz http_response_fuzz
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZERS))
FUZZ_LIB := $(FUZZ_DIR)/libfuzzed.a
FUZZ_LIB_OBJS := $(patsubst %.cpp,$(FUZZ_DIR)/%.o,$(COMMON_SRCS) client/http_response.cpp) \
                 $(patsubst %,$(FUZZ_DIR)/llhttp/%.o,api http llhttp)

.PHONY: fuzz fuzz-build fuzz-replay
fuzz-build: $(FUZZ_BINS)

# Every input of the checked-in seeds and of both working corpora (build-fuzz/ and build-fuzz-fast/), once, under
# ASan and UBSan.
fuzz-replay: fuzz-build
	$(Q)for f in $(FUZZERS); do \
	  dirs=$$(ls -d fuzz/corpus/$$f build-fuzz/corpus/$$f build-fuzz-fast/corpus/$$f 2>/dev/null); \
	  ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) $(FUZZ_DIR)/$$f -runs=0 -max_len=12000 $$dirs >$(FUZZ_DIR)/$$f-replay.log 2>&1; \
	  status=$$?; echo "== $$f replayed:" $$(grep -E 'INITED|DONE' $(FUZZ_DIR)/$$f-replay.log | tail -n 1); \
	  if [ $$status -ne 0 ]; then tail -n 30 $(FUZZ_DIR)/$$f-replay.log; exit 1; fi; \
	done

$(FUZZ_DIR)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) -isystem $(LLHTTP_INCLUDE) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -w -c $< -o $@

$(FUZZ_DIR)/%.o: %.cpp
	$(call say,CXX,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%_fuzz: $(FUZZ_DIR)/fuzz/%_fuzz.o $(FUZZ_LIB)
	$(call say,LD,$@)
	$(Q)$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

fuzz: fuzz-build
	$(Q)for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$f; \
	  echo "== $$f for $(FUZZ_SECONDS) s (log: $(FUZZ_DIR)/$$f.log)"; \
	  ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) $(FUZZ_DIR)/$$f $(FUZZ_DIR)/corpus/$$f fuzz/corpus/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=12000 \
	    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$f- $(FUZZ_ARGS) \
	    >$(FUZZ_DIR)/$$f.log 2>&1; status=$$?; \
	  grep -v -e '^#[0-9].*\(NEW\|REDUCE\|pulse\)' -e '^\(INFO\|MERGE\)' $(FUZZ_DIR)/$$f.log | tail -n 40; \
	  if [ $$status -ne 0 ]; then echo "$$f failed (exit $$status); the input is in $(FUZZ_DIR)/$$f-*"; exit 1; fi; \
	done

clean:
	rm -rf build build-san* bin bin-san* build-fuzz build-fuzz-fast

-include $(shell find $(BUILD_DIR) $(if $(filter fuzz%,$(MAKECMDGOALS)),$(FUZZ_DIR)) -name '*.d' 2>/dev/null)
