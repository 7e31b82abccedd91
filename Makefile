# Conduit Realtime - one non-recursive Makefile.
#
#   make            build conduit-broker, conduit-gateway, conduit-pub (build/)
#   make run        install what is missing, build, start a broker and a gateway
#   make check      install what is missing, build with ASan+UBSan (build/san/),
#                   run every unit suite and every end-to-end test
#   make bench      the benchmark (make bench-quick: a small version)
#   make fuzz       libFuzzer targets (clang), each run for a bounded time
#   make memcheck   the unit suites under valgrind
#   make format     clang-format in place; make format-check fails on a diff
#
# SANITIZE=address,undefined builds into build/san/. V=1 prints commands.

SHELL := /bin/bash
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif

PKGS := libczmq libzmq libwebsockets msgpack yaml-0.1 lmdb libcrypto

ifneq ($(SANITIZE),)
B := build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
B := build
SANFLAGS :=
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings -Werror
CFLAGS ?= -g -O2
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -MMD -MP $(WARN) $(CFLAGS) $(SANFLAGS) \
	-I. $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMMON_SRC  := $(wildcard common/*.c) $(wildcard proto/*.c)
BROKER_SRC  := $(filter-out broker/main.c,$(wildcard broker/*.c))
GATEWAY_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c))
CLI_SRC     := $(filter-out cli/main.c,$(wildcard cli/*.c))
BENCH_SRC   := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBCDT  := $(B)/libcdt.a
LIBBRK  := $(B)/libbroker.a
LIBGW   := $(B)/libgateway.a
LIBCLI  := $(B)/libcli.a
BROKER  := $(B)/conduit-broker
GATEWAY := $(B)/conduit-gateway
PUB     := $(B)/conduit-pub
LOADGEN := $(B)/conduit-bench

# Unit suites: tests/unit/<component>/test_*.c, one runner per component.
# Each test file exports `Suite *<name>_suite(void)`; the runner's list is
# generated from those definitions, so adding a file is enough.
UNIT_COMPONENTS := $(notdir $(patsubst %/,%,$(wildcard tests/unit/*/)))
UNIT_RUNNERS := $(foreach c,$(UNIT_COMPONENTS),$(B)/check_$(c))

.PHONY: all run check unit e2e bench bench-quick fuzz memcheck format \
	format-check lint clean deps deps-test
.DEFAULT_GOAL := all

all: $(BROKER) $(GATEWAY) $(PUB)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCDT): $(call obj,$(COMMON_SRC))
$(LIBBRK): $(call obj,$(BROKER_SRC))
$(LIBGW): $(call obj,$(GATEWAY_SRC))
$(LIBCLI): $(call obj,$(CLI_SRC))
$(LIBCDT) $(LIBBRK) $(LIBGW) $(LIBCLI):
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BROKER): $(call obj,broker/main.c) $(LIBBRK) $(LIBCDT)
$(GATEWAY): $(call obj,gateway/main.c) $(LIBGW) $(LIBCDT)
$(LOADGEN): $(call obj,$(BENCH_SRC)) $(LIBCDT)
$(BROKER) $(GATEWAY) $(LOADGEN):
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LIBS)

# conduit-pub runs once per event from shell scripts, so starting it is
# part of every publish (issue #5, S6: < 5 ms a run). It links only what
# it calls (no czmq, libcrypto, lmdb or libwebsockets: 2.9 ms a run), and
# with PUB_LINK=static (the default) libzmq, libsodium, libstdc++,
# msgpack-c and libyaml come from their archives, which Debian's -dev
# packages install (finding and relocating the shared objects: 1.5 ms).
# cli/zmqstubs.c stands in for the GSSAPI and PGM code that this libzmq
# refers to and conduit-pub never reaches (1 ms: seven Kerberos
# libraries, and pgm_init's NSS lookup); the real libraries follow it
# with --as-needed, as a fallback. The archives are found with
# $(CC) -print-file-name (Debian's msgpack.pc has a wrong libdir, and
# libzmq's `pkg-config --static` list names libprotokit.a without a
# path). When one is missing, or with PUB_LINK=shared, conduit-pub links
# the shared libraries: distribution updates of libzmq and libsodium
# then reach it without a rebuild (make does not relink by itself when
# PUB_LINK changes: remove the binary first).
PUB_LINK ?= static
PUB_AR := $(strip $(foreach l,zmq sodium norm protokit bsd md stdc++ msgpackc \
	yaml,$(shell $(CC) -print-file-name=lib$(l).a 2>/dev/null)))
ifeq ($(PUB_LINK):$(PUB_AR),static:$(wildcard $(PUB_AR)))
PUB_OBJS := $(call obj,cli/zmqstubs.c)
PUB_LIBS = $(PUB_AR) $(shell pkg-config --libs krb5-gssapi openpgm-5.3 \
	2>/dev/null) -lpthread -lm -static-libgcc
else
PUB_OBJS :=
PUB_LIBS = $(shell pkg-config --libs libzmq msgpack yaml-0.1 2>/dev/null) -lm
endif
$(PUB): $(call obj,cli/main.c) $(PUB_OBJS) $(LIBCLI) $(LIBCDT)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SANFLAGS) -Wl,--as-needed -o $@ $^ $(PUB_LIBS)

# ---- unit tests ---------------------------------------------------------

unit_lib_common  := $(LIBCDT)
unit_lib_proto   := $(LIBCDT)
unit_lib_broker  := $(LIBBRK) $(LIBCDT)
unit_lib_gateway := $(LIBGW) $(LIBCDT)
unit_lib_cli     := $(LIBCLI) $(LIBCDT)

define unit_runner
$(B)/gen/suites_$(1).h: $(wildcard tests/unit/$(1)/test_*.c)
	@mkdir -p $$(dir $$@)
	$(Q)sed -n 's/^\([a-z0-9_]*_suite\)(void)$$$$/X(\1)/p' $$^ > $$@.tmp
	$(Q)mv $$@.tmp $$@
$(B)/obj/tests/unit/check_$(1).o: tests/unit/check_main.c $(B)/gen/suites_$(1).h
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CC      check_$(1)")
	$(Q)$$(CC) $$(ALL_CFLAGS) -I$(B)/gen -DSUITES_H='"suites_$(1).h"' \
		-DCOMPONENT='"$(1)"' -c $$< -o $$@
$(B)/check_$(1): $(B)/obj/tests/unit/check_$(1).o \
		$(call obj,$(wildcard tests/unit/$(1)/*.c)) $(unit_lib_$(1))
	@$$(if $$(Q),echo "  LD      $$@")
	$(Q)$$(CC) $$(SANFLAGS) -o $$@ $$^ $$(CHECK_LIBS) $$(LIBS)
endef
$(foreach c,$(UNIT_COMPONENTS),$(eval $(call unit_runner,$(c))))

# ---- the two commands ----------------------------------------------------

deps:
	@tools/deps.sh build
deps-test:
	@tools/deps.sh test

run: deps-test
	@$(MAKE) --no-print-directory all
	@tools/run.sh $(B)

SAN_MAKE = $(MAKE) --no-print-directory SANITIZE=address,undefined

check: deps-test
	@$(SAN_MAKE) unit e2e

unit: $(UNIT_RUNNERS)
	@set -e; for r in $(UNIT_RUNNERS); do echo "== $$r"; $$r; done

e2e: $(BROKER) $(GATEWAY) $(PUB)
	@tests/e2e/run.sh $(B)

# ---- benchmark, fuzzing, valgrind ---------------------------------------

bench: deps-test
	@$(MAKE) --no-print-directory all $(LOADGEN)
	@bench/run.sh full $(B)
bench-quick: deps-test
	@$(MAKE) --no-print-directory all $(LOADGEN)
	@bench/run.sh quick $(B)

fuzz:
	@tools/deps.sh fuzz
	@tests/fuzz/run.sh

memcheck: $(UNIT_RUNNERS)
	@tools/deps.sh memcheck
	@set -e; for r in $(UNIT_RUNNERS); do echo "== valgrind $$r"; \
		CK_FORK=no valgrind --quiet --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
		--suppressions=tests/valgrind.supp $$r; done

# ---- formatting and lint -------------------------------------------------

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr -I. $(COMMON_SRC) $(BROKER_SRC) $(GATEWAY_SRC) \
		$(CLI_SRC)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
