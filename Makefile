# Card issuance station: top-level build.
#
# Non-recursive: each part of the tree adds its programs, tests and fuzzers in a
# module.mk fragment (see docs/build.md). MODE selects the build flavour:
#   MODE=release  hardened optimised build (default)            -> build/release
#   MODE=asan     AddressSanitizer + UndefinedBehaviorSanitizer  -> build/asan
#   MODE=fuzz     clang libFuzzer + ASan + UBSan (fuzzers only)  -> build/fuzz

MODE ?= release
# make check builds with one job per CPU unless make was given -j itself.
CHECK_J = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
B    := build/$(MODE)
CC   ?= cc
ifeq ($(MODE),fuzz)
CC   := clang
endif

WARN   := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security \
          -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wpointer-arith \
          -Wno-deprecated-declarations
BASE   := -std=c11 -D_GNU_SOURCE -fPIE -pipe -MMD -MP
HARDEN := -fstack-protector-strong -fstack-clash-protection -fcf-protection
LDHARD := -pie -Wl,-z,relro,-z,now,-z,noexecstack

ifeq ($(MODE),release)
OPT := -O2 -g -D_FORTIFY_SOURCE=2
SAN :=
else ifeq ($(MODE),asan)
OPT := -O1 -g -fno-omit-frame-pointer
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(MODE),fuzz)
OPT := -O1 -g -fno-omit-frame-pointer -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
else
$(error MODE must be release, asan or fuzz)
endif

INCS    := -Idrivers -Icardmgr -Itests
CFLAGS  ?=
CFLAGS  += $(BASE) $(WARN) $(HARDEN) $(OPT) $(SAN) $(INCS)
LDFLAGS += $(LDHARD) $(SAN)

# Filled in by the module.mk fragments.
PROGS   :=
TESTS   :=
FUZZERS :=
BENCHES :=
LIBS_ALL :=

.DEFAULT_GOAL := all

# $(call prog,name,sources,libs): link $(B)/bin/name from sources.
define prog
$(B)/bin/$(1): $(patsubst %.c,$(B)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$^ -o $$@ $$(LDFLAGS) $(3)
endef

# $(call fuzzer,name,sources,libs): a libFuzzer harness, built only in MODE=fuzz.
define fuzzer
$(B)/fuzz/$(1): $(patsubst %.c,$(B)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -fsanitize=fuzzer $$^ -o $$@ $$(LDFLAGS) $(3)
endef

# lib.mk fragments only name libraries (source lists and link flags, no rules);
# they are read first so any module.mk may use any library, whatever the order.
include $(sort $(wildcard */lib.mk */*/lib.mk))
include $(sort $(wildcard */module.mk */*/module.mk))

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

.PHONY: all deps ui-deps build deb demo demo-stop check test bench fuzz fuzz-replay clean help

## deps        install missing Debian packages (firmware/packages.txt)
deps:
	@./firmware/deps.sh

## ui-deps     install the kiosk UI's pinned npm packages (npm ci: kiosk-ui/ and tests/ui/ lockfiles)
ui-deps: deps
	@./firmware/ui-deps.sh

## all         build the station and its tools (hardened release build)
all: deps
	@$(MAKE) --no-print-directory build MODE=$(MODE)

build: $(addprefix $(B)/bin/,$(PROGS) $(TESTS) $(BENCHES))

## deb         Debian packages cardmgr and cardmgr-kiosk (dpkg-buildpackage, firmware/debian; the kiosk UI with its npm library) into build/deb, then lintian
deb: deps ui-deps
	@./firmware/mkdeb.sh

## demo        start pcscd, a virtual reader with a blank virtual PIV card and the station (kiosk UI on 127.0.0.1:8410); print how to use it
demo: all ui-deps
	@./tests/demo.sh start

## demo-stop   stop what `make demo` started
demo-stop:
	@./tests/demo.sh stop

## check       release + ASan/UBSan + fuzz builds, every test, corpus replay; ends "N passed, N failed"
check: deps ui-deps
	@$(MAKE) --no-print-directory $(CHECK_J) build MODE=release
	@$(MAKE) --no-print-directory $(CHECK_J) build MODE=asan
	@$(MAKE) --no-print-directory $(CHECK_J) fuzz-build MODE=fuzz
	@./tests/run.sh build/asan build/fuzz

test: check

## bench       benchmarks (ratios against a baseline measured in the same run; the kiosk's need ui-deps)
bench: all ui-deps
	@./tests/bench.sh build/release

fuzz-build: $(addprefix $(B)/fuzz/,$(FUZZERS))

## fuzz        run every libFuzzer harness for FUZZ_SECONDS (default 60) each; then a table of the project code each corpus reaches (a blind harness fails)
FUZZ_SECONDS ?= 60
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build MODE=fuzz
	@./tests/fuzz.sh build/fuzz $(FUZZ_SECONDS)

## clean       remove build/ and test scratch
clean:
	rm -rf build

## help        this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
