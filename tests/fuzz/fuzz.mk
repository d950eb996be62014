# libFuzzer targets for the parsers that see untrusted bytes (issue 7).
#   make fuzz [FUZZ_SECONDS=60]   each target that long, corpus kept in build/
#   make fuzz-smoke               kept crash inputs (tests/fuzz/regressions/
#                                 TARGET/) replayed, then each target 5 s;
#                                 fails on any crash
#   make fuzz-build               only build build/fuzz/fuzz_*
# Packages: sh tests/fuzz/deps.sh. Extra libFuzzer flags: FUZZ_ARGS=...

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_ARGS	?=
FB		:= build/fuzz
# UBSan must abort, or libFuzzer never sees its reports as crashes.
FUZZ_CFLAGS	:= -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-D_GNU_SOURCE -Isrc -I$(LLHTTP_INC)
FUZZ_WARN	:= $(filter-out -Werror,$(WARN))
FUZZ_TARGETS	:= frames utf8 close url handshake config pty cast
FUZZ_BINS	:= $(FUZZ_TARGETS:%=$(FB)/fuzz_%)
FUZZ_LLHTTP	:= $(FB)/llhttp/llhttp.o $(FB)/llhttp/api.o $(FB)/llhttp/http.o

# Each target links the modules it fuzzes, compiled with it.
$(FB)/fuzz_frames: src/ws.c
$(FB)/fuzz_utf8: src/ws.c
$(FB)/fuzz_close: src/ws.c
$(FB)/fuzz_url: src/handshake.c src/http_response.c $(FUZZ_LLHTTP)
$(FB)/fuzz_handshake: src/handshake.c src/http_response.c $(FUZZ_LLHTTP)
$(FB)/fuzz_config: src/config.c src/config_keys.c src/config_load.c \
	src/config_parse.c src/config_check.c \
	src/options.c
$(FB)/fuzz_pty: src/pty_proto.c
$(FB)/fuzz_cast: src/cast.c src/base64.c src/ws.c
FUZZ_LIBS_url	:= -lcrypto
FUZZ_LIBS_handshake := -lcrypto
FUZZ_LIBS_config := -linih
FUZZ_LIBS_pty	:= -ljson-c
FUZZ_LIBS_cast	:= -ljson-c -lcrypto

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps

fuzz-deps:
	@sh tests/fuzz/deps.sh

fuzz-build: $(FUZZ_BINS)

# Order-only: the packages come first, without forcing rebuilds.
$(FUZZ_BINS) $(FUZZ_LLHTTP): | fuzz-deps

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard src/*.h)
	@mkdir -p $(FB)
	@echo "  FUZZ  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -o $@ $< \
	    $(filter %.c %.o,$(filter-out $<,$^)) $(FUZZ_LIBS_$*)

# Third-party llhttp: relaxed warnings, instrumented all the same.
$(FB)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(FB)/llhttp
	@echo "  FUZZ  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -w -c -o $@ $<

fuzz: fuzz-build
	@FUZZ_ARGS="$(FUZZ_ARGS)" sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) \
	    $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_ARGS="$(FUZZ_ARGS)" sh tests/fuzz/run.sh smoke \
	    $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)
