# iomodels: one GNU Makefile for every binary. `make help` lists the targets.
#
#   make                     build every binary into bin/
#   make deps                install the Debian packages the suite needs (no-op when present)
#   make test                build, then run every test; ends with "N passed, N failed"
#   make compare             run the comparison (results/<timestamp>/)
#   make SAN=address,undefined test    the same under sanitizers, in build-san/ and bin-san/
#   make V=1                 show the compiler command lines

SAN ?=
ifeq ($(SAN),)
BUILD_DIR ?= build
BIN_DIR ?= bin
else
BUILD_DIR ?= build-san
BIN_DIR ?= bin-san
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

obj = $(patsubst %.cpp,$(BUILD_DIR)/%.o,$(1))
# Sources of a folder that are not a binary's main are shared by that folder's binaries (blocking/ has one).
family_srcs = $(filter-out $(ALL_MAINS),$(wildcard $(dir $(1))*.cpp))

COMMON_SRCS := $(wildcard common/*.cpp)
COMMON_LIB := $(BUILD_DIR)/libiomodels.a
LLHTTP_OBJS := $(BUILD_DIR)/llhttp/api.o $(BUILD_DIR)/llhttp/http.o $(BUILD_DIR)/llhttp/llhttp.o
CLIENT_SRCS := $(filter-out client/main.cpp,$(wildcard client/*.cpp))
CLIENT_LIB := $(BUILD_DIR)/libloadgen.a
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
all: $(BINARIES)

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

$(BIN_DIR)/loadgen: $(call obj,client/main.cpp) $(CLIENT_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ -o $@

$(BIN_DIR)/compare: $(call obj,compare/main.cpp $(COMPARE_SRCS)) $(HARNESS_LIB) $(CLIENT_LIB) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ -o $@

$(BUILD_DIR)/tests/fake/%: $(BUILD_DIR)/tests/fake/%.o $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)$(CXX) $(LDFLAGS) $^ -o $@

$(TEST_BIN): $(call obj,$(TEST_SRCS) $(COMPARE_SRCS)) $(HARNESS_LIB) $(if $(CLIENT_SRCS),$(CLIENT_LIB)) $(COMMON_LIB)
	$(call say,LD,$@)
	$(Q)mkdir -p $(@D) && $(CXX) $(LDFLAGS) $^ -lgtest -lgmock -o $@

# ASan's quarantine holds freed memory back for reuse, which the memory bounds of the backpressure tests would
# count as growth; a small quarantine keeps use-after-free detection and RSS honest.
TEST_ASAN_OPTIONS ?= quarantine_size_mb=1

test-build: $(BINARIES) $(TEST_BIN) $(FAKE_BINS)

# The quick-start targets install what a new machine lacks first, so the README's two commands suffice.
test: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) test-build
	$(Q)BIN_DIR=$(BIN_DIR) BUILD_DIR=$(BUILD_DIR) ASAN_OPTIONS=$(TEST_ASAN_OPTIONS) tests/run.sh $(TEST_BIN)

compare: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)$(BIN_DIR)/compare $(COMPARE_ARGS)

clean:
	rm -rf build build-san bin bin-san

-include $(shell find $(BUILD_DIR) -name '*.d' 2>/dev/null)
