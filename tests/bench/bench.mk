# Benchmark client, TCP echo server, and the references: a plain TCP relay
# and a spawn-rate loop (issue 6), a plain TCP fan-out and the line
# program it and the shared-session rows run (issue 15), kept beside
# their sources; stream_read reads a writing route over WebSocket or SSE
# (issue 16).
# make bench: the full comparison (tests/bench/run.sh, a few minutes).
# make bench-smoke: wsbench against wsbridge --echo for a second.

B		?= build
BENCH_CFLAGS	:= -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror $(WARN)
BENCH_BINS	:= $(B)/bench/wsbench $(B)/bench/echo_server \
		   $(B)/bench/spawn_rate $(B)/bench/tcp_relay \
		   $(B)/bench/tls_echo_server $(B)/bench/tls_idle \
		   $(B)/bench/fanout_ref $(B)/bench/lines \
		   $(B)/bench/stream_read

.PHONY: bench bench-bins bench-smoke

bench-bins: $(BENCH_BINS)

WSBENCH_SRCS	:= tests/bench/wsbench.c tests/bench/wsb_conn.c \
		   tests/bench/wsb_tls.c \
		   tests/bench/wsb_stats.c

$(B)/bench/wsbench: $(WSBENCH_SRCS) tests/bench/wsbench.h
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $(WSBENCH_SRCS) -lssl -lcrypto

$(B)/bench/echo_server: tests/bench/echo_server.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/tls_echo_server: tests/bench/tls_echo_server.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -lssl -lcrypto

$(B)/bench/tls_idle: tests/bench/tls_idle.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -lssl -lcrypto

$(B)/bench/stream_read: tests/bench/stream_read.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/spawn_rate: tests/bench/spawn_rate.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/fanout_ref: tests/bench/fanout_ref.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/lines: tests/bench/lines.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/tcp_relay: tests/bench/tcp_relay.c
	@mkdir -p $(B)/bench
	@echo "  CC    $@"
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

bench: all bench-bins
	@B=$(B) bash tests/bench/run.sh

bench-smoke: all bench-bins
	@B=$(B) bash tests/bench/smoke.sh
