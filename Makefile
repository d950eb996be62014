# wsbridge: WebSocket to process/socket bridge.
# make | make test | make run | make clean | make SANITIZE=1 | V=1 for commands

CC	?= cc
PREFIX	?= /usr/local
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

# Two phases, so that a first run on a fresh machine works: the outer make
# installs the build dependencies (packaging/deps.sh) and then runs a new
# make for the same goals. A single make cannot do both: it caches what
# it saw of /usr/share/llhttp before the packages were there, and then has
# no rule for llhttp's objects. WSB_DEPS_DONE=1 marks the inner make (and
# skips the install step when set by hand). DEPS_SH is the install step.
DEPS_SH ?= sh packaging/deps.sh
NODEPS_GOALS := clean deps test-deps package-deps fuzz-deps uninstall
ifeq ($(WSB_DEPS_DONE),)
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
GOALS	:= $(or $(MAKECMDGOALS),all)
.PHONY: $(GOALS) deps-then-build
$(GOALS): deps-then-build
	@:
deps-then-build:
	@$(DEPS_SH)
	@$(MAKE) --no-print-directory WSB_DEPS_DONE=1 $(MAKECMDGOALS)
WSB_OUTER := 1
endif
endif
ifeq ($(WSB_OUTER),)

ifeq ($(SANITIZE),1)
B	:= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else
B	:= build
SANFLAGS :=
endif

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wsign-compare
CFLAGS	?= -O2 -g
ALLCFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(SANFLAGS) -I$(LLHTTP_INC) -Isrc
# Where the pty page's xterm.js files are looked for first (termpage.h has
# the default, Debian's /usr/share/wsbridge/node_modules); `make clean`
# after changing it.
ifneq ($(ASSETDIR),)
ALLCFLAGS += -DWSBRIDGE_ASSET_DIR='"$(ASSETDIR)"'
endif
LDLIBS	:= -lev -linih -ljson-c -lssl -lcrypto -lz -lcrypt -pthread
ifneq ($(V),1)
Q	:= @
endif

SRCS	:= $(wildcard src/*.c)
OBJS	:= $(SRCS:src/%.c=$(B)/%.o)
LLHTTP_OBJS := $(B)/llhttp/llhttp.o $(B)/llhttp/api.o $(B)/llhttp/http.o
# Modules without libev or sockets: unit tests link these alone.
PURE	:= ws handshake buf log filewatch config config_keys config_load config_parse \
	config_check options static pty_proto notify metrics proxy_proto \
	forwarded targets auth access tls iplimit pmd base64 termpage sse \
	http_response cast
PURE_OBJS := $(filter $(PURE:%=$(B)/%.o),$(OBJS)) $(LLHTTP_OBJS)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
# The test drivers themselves at -O0: the modules they test keep CFLAGS
# (-O2); under ASan a driver compiles about 4 times faster unoptimised.
# -U_FORTIFY_SOURCE: a packager's CFLAGS may carry it, and it warns at -O0.
UNIT_OPT ?= -O0 -U_FORTIFY_SOURCE
# test_nomem makes the modules' allocations fail, one at a time.
UNIT_LDFLAGS_test_nomem := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	-Wl,--wrap=strdup

.PHONY: all deps test-deps unit integration test run clean install bench

all: $(B)/wsbridge

deps:
	@$(DEPS_SH)

test-deps:
	@sh packaging/deps.sh test

$(B)/wsbridge: $(OBJS) $(LLHTTP_OBJS)
	@echo "  LD    $@"
	$(Q)$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: src/%.c $(wildcard src/*.h) | $(B)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALLCFLAGS) $(WARN) -c -o $@ $<

# Third-party llhttp sources: relaxed warnings, never copied into src/.
$(B)/llhttp/%.o: $(LLHTTP_SRC)/%.c | $(B)
	@mkdir -p $(B)/llhttp
	@echo "  CC    $<"
	$(Q)$(CC) $(ALLCFLAGS) -w -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/test.h $(PURE_OBJS) | $(B)
	@mkdir -p $(B)/tests
	@echo "  LD    $@"
	$(Q)$(CC) $(ALLCFLAGS) $(UNIT_OPT) $(WARN) -Itests/unit -o $@ $< $(PURE_OBJS) \
	    $(LDLIBS) $(UNIT_LDFLAGS_$*)

$(B):
	@mkdir -p $(B)

unit: all $(UNIT_BINS)
	@sh tests/unit/run.sh $(UNIT_BINS)

integration: all
	@WSBRIDGE_BIN=$(CURDIR)/$(B)/wsbridge /usr/bin/python3 -m pytest \
	    -q -p no:cacheprovider tests/integration

# Every stage (unit, integration, sanitizers, browser, fuzz and bench
# smoke runs), then "N passed, N failed"; tests/run_all.sh says more.
# Every package any stage needs comes first: the stages then run side by
# side, and two apt-get runs at once would fail on dpkg's lock.
test: test-deps
	@sh packaging/deps.sh package fuzz
	@$(MAKE) --no-print-directory -j2 all browser-test-deps
	@bash tests/run_all.sh

# make run PORT=8081: the same demo on another port, still on 127.0.0.1
# (--port with -c keeps the file's addresses).
run: all browser-deps
	./$(B)/wsbridge -c conf/wsbridge.ini$(if $(PORT), --port $(PORT))

clean:
	rm -rf build

# Benchmarks, fuzzing and packaging keep their rules beside their files.
-include tests/bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tests/browser/browser.mk
-include packaging/packaging.mk

endif # WSB_OUTER
