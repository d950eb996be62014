#!/bin/bash
# Benchmark wsbridge against websocketd and websockify on loopback (issue 6).
# Every load runs BENCH_RUNS times (default 3), interleaved between servers,
# BENCH_SECONDS each (default 3); the table shows medians and the ratios the
# issue targets. The whole run takes about five minutes at the defaults,
# and the fan-out rows (issue 15) about four more.
# BENCH_IDLE, BENCH_IDLE_WEBSOCKETD, BENCH_IDLE_WEBSOCKIFY: idle conns.
# BENCH_ONLY=fanout: the fan-out rows alone.
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh

B=${B:-build}
SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
IDLE=${BENCH_IDLE:-10000}
IDLE_WSD=${BENCH_IDLE_WEBSOCKETD:-500}
IDLE_WSF=${BENCH_IDLE_WEBSOCKIFY:-50}
# websockify forks a Python process per connection: opening 100 takes 15-30
# s here, and its ratios are far from any target, so one round by default.
RUNS_WSF=${BENCH_RUNS_WEBSOCKIFY:-1}
WSB=$B/wsbridge
WSBENCH=$B/bench/wsbench
OUT=$B/bench/run
RES=$OUT/results

build() {
	make --no-print-directory all bench-bins >/dev/null || exit 1
}

# The peers come from Debian; without root (or apt) the table shows wsbridge
# alone.
install_peers() {
	have websocketd && have websockify && have openssl &&
	    return
	if [ "$(id -u)" != 0 ]; then
		echo "bench: websocketd/websockify missing; as root:" \
		    "apt-get install -y websocketd websockify" >&2
		return
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    websocketd websockify openssl >/dev/null
}

have() {
	command -v "$1" >/dev/null
}

# Each idle connection costs wsbridge two descriptors (client, backend).
idle_count() {
	local hard
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ $(((hard - 100) / 2)) -lt "$IDLE" ]
	then
		echo "bench: descriptor limit $hard: idle test holds" \
		    "$(((hard - 100) / 2)) connections, not $IDLE" >&2
		IDLE=$(((hard - 100) / 2))
	fi
}

# server NAME PORT: the command line of a server under test.
server_cmd() {
	case $1 in
	wsbridge-text)	echo "$WSB --port $2 --address 127.0.0.1 cat" ;;
	wsbridge-binary) echo "$WSB --port $2 --address 127.0.0.1 --binary cat" ;;
	websocketd-text) echo "websocketd --port $2 --address 127.0.0.1 cat" ;;
	websocketd-binary)
		echo "websocketd --port $2 --address 127.0.0.1 --binary cat" ;;
	wsbridge-tcp)	echo "$WSB --port $2 --address 127.0.0.1" \
		    "--connect 127.0.0.1:$ECHO_PORT" ;;
	# A route for bulk transfers: 1 MiB buffers (and socket reads).
	wsbridge-tcp-large) echo "$WSB --port $2 --address 127.0.0.1" \
		    "--connect 127.0.0.1:$ECHO_PORT --max-message-size 32M" \
		    "--buffer-size 1M" ;;
	websockify)	echo "websockify 127.0.0.1:$2 127.0.0.1:$ECHO_PORT" ;;
	# wss: the same servers with the bench certificate (ECDSA P-256).
	wss-wsbridge-binary) echo "$WSB --port $2 --address 127.0.0.1" \
		    "$(wsb_tls) --binary cat" ;;
	wss-websocketd-binary) echo "websocketd --port $2" \
		    "--address 127.0.0.1 --ssl --sslcert $CERT --sslkey $KEY" \
		    "--binary cat" ;;
	wss-wsbridge-tcp) echo "$WSB --port $2 --address 127.0.0.1" \
		    "$(wsb_tls) --connect 127.0.0.1:$ECHO_PORT" ;;
	wss-websockify)	echo "websockify --cert $CERT --key $KEY" \
		    "127.0.0.1:$2 127.0.0.1:$ECHO_PORT" ;;
	# Shared sessions (issue 15): one `lines` program, every client of
	# /feed reads it; the reference fans the same program out over TCP.
	fanout-wsbridge) fanout_config "$OUT/fanout-$2.ini" "$2" close &&
		echo "$WSB -c $OUT/fanout-$2.ini" ;;
	fanout-wsbridge-skip) fanout_config "$OUT/fanout-$2.ini" "$2" skip &&
		echo "$WSB -c $OUT/fanout-$2.ini" ;;
	fanout-ref)	echo "$B/bench/fanout_ref --port $2 --" \
		    "$B/bench/lines --size 64" ;;
	# A route whose program writes 64-byte lines as fast as it can,
	# open to WebSocket and SSE (issue 16); the file is made by main.
	wsbridge-stream) echo "$WSB -c $OUT/stream.ini --port $2" ;;
	# The physical reference: a plain C OpenSSL echo server, no hop.
	tls-echo)	echo "$B/bench/tls_echo_server --port $2 --cert $CERT" \
		    "--key $KEY" ;;
	esac
}

wsb_tls() {
	echo "--ssl --sslcert $CERT --sslkey $KEY"
}

# A throwaway ECDSA P-256 certificate for the wss rows.
make_cert() {
	CERT=$OUT/cert.pem
	KEY=$OUT/key.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
	    >/dev/null 2>&1 || { echo "bench: openssl req failed" >&2; exit 1; }
}

# measure KEY SERVER WSBENCH-ARGS...: one run; "raw" talks to the echo
# server, "relay" to it through the plain TCP relay, "spawn" runs the
# spawn-rate reference instead of wsbench. Appends the RESULT fields to $RES as "KEY field value".
measure() {
	local key=$1 srv=$2 port pid=0 log rc
	shift 2
	case $srv in
	websocketd* | wss-websocketd*) have websocketd || return ;;
	websockify | wss-websockify)
		have websockify || return
		[ "$ROUND" -le "$RUNS_WSF" ] || return ;;
	fanout-wsbridge*) [ "$FANOUT_WSB" = yes ] || return ;;
	esac
	log=$OUT/$key.log
	if [ "$srv" = spawn ]; then
		timeout $((SECS + 90)) "$B/bench/spawn_rate" "$@" >>"$log" 2>&1
		rc=$?
		record "$key" "$log" "$rc"
		return
	fi
	if [ "$srv" = raw ]; then
		port=$ECHO_PORT
	elif [ "$srv" = relay ]; then
		port=$RELAY_PORT
	else
		port=$(free_port)
		# shellcheck disable=SC2046
		start_server "$OUT/$key.server.log" "$port" \
		    $(server_cmd "$srv" "$port") || { echo "$key failed" \
		    "errors 1" >>"$RES"; return; }
		pid=$SERVER_PID
	fi
	# --pid: idle reads its RSS, the others its CPU per message/session.
	[ "$pid" != 0 ] && set -- "$@" --pid "$pid"
	timeout $((SECS + 90)) "$WSBENCH" "$@" --port "$port" >>"$log" 2>&1
	rc=$?
	[ "$pid" != 0 ] && stop_server "$pid"
	record "$key" "$log" "$rc"
}

# measure_stream TRANSPORT: read the stream route over ws, sse or poll for
# $SECS with stream_read; messages/s and the daemon's CPU per message.
measure_stream() {
	local key=stream.$1 port pid log=$OUT/stream.$1.log path=/stream
	[ "$1" = post ] && path=/sink
	port=$(free_port)
	start_server "$OUT/$key.server.log" "$port" \
	    $(server_cmd wsbridge-stream "$port") || { echo "$key failed" \
	    "errors 1" >>"$RES"; return; }
	pid=$SERVER_PID
	timeout $((SECS + 30)) "$B/bench/stream_read" "$1" --port "$port" \
	    --path "$path" --seconds "$SECS" --pid "$pid" >>"$log" 2>&1
	local rc=$?
	stop_server "$pid"
	record "$key" "$log" "$rc"
}

# The stream route's config: `yes` prints its 63-byte word and a newline.
stream_config() {
	printf '[server]\nlisten = 127.0.0.1:1\n[route /stream]\n' \
	    >"$OUT/stream.ini"
	printf 'exec = yes %s\ntransports = websocket, sse, poll\n' \
	    "$(printf 'a%.0s' $(seq 63))" >>"$OUT/stream.ini"
	# POST input: a program that takes everything and prints nothing.
	printf "[route /sink]\nexec = sh -c 'cat > /dev/null'\n%s\n" \
	    "transports = sse" >>"$OUT/stream.ini"
}

# record KEY LOG RC: the last RESULT line of LOG into $RES.
record() {
	local key=$1 log=$2 rc=$3 line f
	line=$(grep '^RESULT' "$log" | tail -n 1)
	for f in ${line#RESULT }; do
		echo "$key ${f%%=*} ${f#*=}" >>"$RES"
	done
	if [ $rc != 0 ]; then
		echo "$key failed 1" >>"$RES"
		echo "bench: $key: wsbench exit $rc:" \
		    "$(grep -v '^RESULT' "$log" | tail -n 2 | tr '\n' ' ')" >&2
	fi
	printf '.' >&2
}

# One round of every load, servers alternating.
round() {
	local s e="echo --conns 100 --depth 16 --size 64 --seconds $SECS"
	local c="connect --conns 10 --size 64 --seconds $SECS"
	for s in wsbridge-text websocketd-text; do
		measure "echo.$s" "$s" $e
	done
	for s in wsbridge-binary websocketd-binary; do
		measure "echo.$s" "$s" $e --binary
	done
	for s in wsbridge-tcp websockify; do
		measure "echo.$s" "$s" $e --binary
	done
	measure echo.raw raw raw --conns 100 --depth 16 --size 64 \
	    --seconds "$SECS"
	measure echo.relay relay raw --conns 100 --depth 16 --size 64 \
	    --seconds "$SECS"
	for s in wsbridge-text websocketd-text; do
		measure "connect.$s" "$s" $c
	done
	for s in wsbridge-tcp websockify; do
		measure "connect.$s" "$s" $c --binary
	done
	measure connect.raw raw $c --raw
	# The machine's own limit for the process route: spawn + exit alone.
	measure connect.spawn-1 spawn --conns 1 --seconds "$SECS"
	measure connect.spawn-10 spawn --conns 10 --seconds "$SECS"
	for s in wsbridge-text websocketd-text; do
		measure "p99.$s" "$s" echo --conns 100 --depth 1 --size 64 \
		    --seconds "$SECS"
	done
	# One writing program, read over WebSocket and over SSE (issue 16).
	measure_stream ws
	measure_stream sse
	measure_stream poll
	# POST input to an SSE session, 64-byte messages one after another.
	measure_stream post
	measure large.wsbridge-tcp wsbridge-tcp-large large --count 5
	measure large.raw raw large --raw --count 5
	measure large.relay relay large --raw --count 5
	tls_round
}

# Fan-out (issue 15): 1 to 1000 clients of one program's 64-byte lines,
# then the same with the first client stopped (it connects, never reads).
fanout_round() {
	local n f="fanout --size 64 --seconds $SECS"
	measure fanout.wsbridge.1 fanout-wsbridge $f --conns 1 --path /feed
	measure fanout.ref.1 fanout-ref $f --conns 1 --raw
	# Each size's stopped row right after its unstopped one: the change
	# compares runs seconds apart, not minutes (the machine's drift
	# between passes moved these rates by 20-40 %).
	for n in 10 100 1000; do
		measure "fanout.wsbridge.$n" fanout-wsbridge $f --conns "$n" \
		    --path /feed
		measure "fanout.wsbridge.$n-stopped" fanout-wsbridge $f \
		    --conns "$n" --stopped 1 --path /feed
		measure "fanout.ref.$n" fanout-ref $f --conns "$n" --raw
		measure "fanout.ref.$n-stopped" fanout-ref $f --conns "$n" \
		    --stopped 1 --raw
	done
	measure fanout.wsbridge-skip.100-stopped fanout-wsbridge-skip $f \
	    --conns 100 --stopped 1 --path /feed
}

# The wss loads (issue 18): same client, TLS 1.3 through OpenSSL.
tls_round() {
	local e="echo --conns 100 --depth 16 --size 64 --seconds $SECS --binary"
	local b="echo --conns 10 --depth 4 --size 16K --seconds $SECS --binary"
	local c="connect --conns 10 --size 64 --seconds $SECS --binary"
	for s in wss-wsbridge-binary wss-websocketd-binary; do
		measure "wss.echo.${s#wss-}" "$s" $e --tls
	done
	for s in wss-wsbridge-tcp wss-websockify; do
		measure "wss.echo.${s#wss-}" "$s" $e --tls
	done
	measure bulk.wsbridge-tcp wsbridge-tcp $b
	for s in wss-wsbridge-tcp wss-websockify wss-wsbridge-binary \
	    wss-websocketd-binary; do
		measure "wss.bulk.${s#wss-}" "$s" $b --tls
	done
	measure wss.bulk.tls-echo tls-echo raw --conns 10 --depth 4 --size 16K \
	    --seconds "$SECS" --tls
	measure wss.connect.wsbridge-tcp wss-wsbridge-tcp $c --tls
	measure wss.resume.wsbridge-tcp wss-wsbridge-tcp $c --tls --resume
	measure wss.connect.tls-echo tls-echo $c --raw --tls
	measure wss.resume.tls-echo tls-echo $c --raw --tls --resume
}

# Once: the heavy idle loads, and websockify's large message, which takes
# many seconds (a Python process buffering and unmasking 16 MiB).
extras() {
	measure large.websockify websockify large --count 1 --seconds 10
	measure idle.wsbridge-tcp wsbridge-tcp idle --count "$IDLE" --binary
	measure idle.websocketd-text websocketd-text idle --count "$IDLE_WSD"
	measure idle.websockify websockify idle --count "$IDLE_WSF" --binary
	measure idle.wss.wsbridge-tcp wss-wsbridge-tcp idle --count "$IDLE" \
	    --binary --tls
	tls_idle_floor
}

# What OpenSSL alone keeps per idle connection with wsbridge's SSL_CTX
# settings: the floor under idle.wss (issue 18).
tls_idle_floor() {
	local log=$OUT/idle.tls-floor.log
	timeout 120 "$B/bench/tls_idle" --cert "$CERT" --key "$KEY" \
	    --count "$IDLE" >"$log" 2>&1
	record idle.tls-floor "$log" $?
}

# med KEY FIELD: the median over the runs, "-" when none.
med() {
	awk -v k="$1" -v f="$2" '$1 == k && $2 == f { print $3 }' "$RES" |
	    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	    else if (NR % 2) print v[(NR + 1) / 2];
	    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fails() {
	awk -v k="$1" '$1 == k && $2 == "failed" { n++ } END { print n + 0 }' \
	    "$RES"
}

print_medians() {
	local k
	printf '\n%-30s %12s %9s %9s %9s %9s %6s\n' "load.server" "rate/s" \
	    "p50 us" "p99 us" "max us" "cpu us" "fails"
	for k in $(awk '{ print $1 }' "$RES" | awk '!seen[$0]++' |
	    grep -v '^idle\.' | grep -v '^fanout\.'); do
		# cpu us: the server's CPU (with its children) per message,
		# or per session for connect loads
		cpu=$(med "$k" cpu_us_per_msg)
		case $k in
		*connect.* | *resume.*)	r=$(med "$k" sessions_per_s)
			cpu=$(med "$k" cpu_us_per_session) ;;
		large.*)	r="$(med "$k" mb_per_s) MB" ;;
		*bulk.*)	r="$(med "$k" mb_per_s) MB" ;;
		*)		r=$(med "$k" msgs_per_s) ;;
		esac
		printf '%-30s %12s %9s %9s %9s %9s %6s\n' "$k" "$r" \
		    "$(med "$k" p50_us)" "$(med "$k" p99_us)" \
		    "$(med "$k" max_us)" "$cpu" "$(fails "$k")"
	done
	printf '\n%-30s %7s %9s %12s %12s %8s\n' "idle.server" "conns" \
	    "open" "B/conn" "+children" "echo ok"
	for k in idle.wsbridge-tcp idle.wss.wsbridge-tcp idle.websocketd-text \
	    idle.websockify; do
		printf '%-30s %7s %9s %12s %12s %8s\n' "$k" "$(med "$k" conns)" \
		    "$(med "$k" open)" "$(med "$k" bytes_per_conn)" \
		    "$(med "$k" tree_bytes_per_conn)" \
		    "$(med "$k" echo_ok)/$(med "$k" sample)"
	done
}

# The fan-out rows: lines delivered per second (all readers), per reader
# and the slowest reader's, the daemon's own CPU per delivered line (not
# the program's), its RSS growth per client, and both sides' cores.
print_fanout() {
	local k
	[ -n "$(awk '$1 ~ /^fanout\./' "$RES")" ] || return
	printf '\n%-32s %11s %10s %10s %8s %9s %5s %5s %5s\n' \
	    "fanout.server.clients" "lines/s" "/client" "slowest" \
	    "cpu us" "B/client" "srv" "cli" "fails"
	for k in $(awk '$1 ~ /^fanout\./ { print $1 }' "$RES" |
	    awk '!seen[$0]++'); do
		printf '%-32s %11s %10s %10s %8s %9s %5s %5s %5s\n' "$k" \
		    "$(med "$k" msgs_per_s)" "$(med "$k" per_client_per_s)" \
		    "$(med "$k" min_client_per_s)" \
		    "$(med "$k" cpu_us_per_msg)" \
		    "$(med "$k" bytes_per_client)" \
		    "$(med "$k" server_cores)" "$(med "$k" client_cores)" \
		    "$(fails "$k")"
	done
}

# change A B: |A / B - 1|, "-" when either is missing.
change() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0)
	    print "-"; else { r = a / b - 1; printf "%.3f\n", r < 0 ? -r : r } }'
}

print_fanout_targets() {
	local m=msgs_per_s p=per_client_per_s n
	[ -n "$(awk '$1 ~ /^fanout\./' "$RES")" ] || return
	printf '\n%-44s %10s   %s\n' "target (issue 15, fan-out)" "measured" \
	    "goal"
	if [ "$FANOUT_WSB" != yes ]; then
		echo "  wsbridge rows skipped: $FANOUT_WHY"
	fi
	target "100 clients lines/s / plain TCP fan-out" \
	    "$(ratio "$(med fanout.wsbridge.100 $m)" \
	    "$(med fanout.ref.100 $m)")" ">=" 0.5
	for n in 1 10 1000; do
		reference "  $n: wsbridge / plain TCP fan-out" \
		    "$(ratio "$(med "fanout.wsbridge.$n" $m)" \
		    "$(med "fanout.ref.$n" $m)")"
	done
	target "1 of 100 stopped: others' rate change" \
	    "$(change "$(med fanout.wsbridge.100-stopped $p)" \
	    "$(med fanout.wsbridge.100 $p)")" "<=" 0.10
	target "  same, slow_client = skip" \
	    "$(change "$(med fanout.wsbridge-skip.100-stopped $p)" \
	    "$(med fanout.wsbridge.100 $p)")" "<=" 0.10
	for n in 10 1000; do
		reference "  1 of $n stopped: others' rate change" \
		    "$(change "$(med "fanout.wsbridge.$n-stopped" $p)" \
		    "$(med "fanout.wsbridge.$n" $p)")"
	done
	reference "  plain fan-out, 1 of 100 stopped: change" \
	    "$(change "$(med fanout.ref.100-stopped $p)" \
	    "$(med fanout.ref.100 $p)")"
}

# target LABEL VALUE OP LIMIT: one line of the targets table.
target() {
	awk -v l="$1" -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
		if (v == "-" || v == "" || v == "inf") { r = "no data" }
		else if (op == ">=") { r = (v + 0 >= t + 0) ? "met" : "NOT met" }
		else { r = (v + 0 <= t + 0) ? "met" : "NOT met" }
		printf "%-44s %10s   %2s %-8s %s\n", l, v, op, t, r }'
}

# reference LABEL VALUE: the same load without wsbridge's work (a plain
# relay, bare spawns): what this machine allows; no verdict.
reference() {
	printf '%-44s %10s   (reference)\n' "$1" "$2"
}

maxof() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-") print b;
	    else if (b == "-" || a + 0 >= b + 0) print a; else print b }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0)
	    print "-"; else printf "%.2f\n", a / b }'
}

print_targets() {
	local m=msgs_per_s s=sessions_per_s
	printf '\n%-44s %10s   %s\n' "target (issue 6)" "measured" "goal"
	target "process text msgs/s / websocketd" \
	    "$(ratio "$(med echo.wsbridge-text $m)" \
	    "$(med echo.websocketd-text $m)")" ">=" 3
	target "process binary msgs/s / websocketd" \
	    "$(ratio "$(med echo.wsbridge-binary $m)" \
	    "$(med echo.websocketd-binary $m)")" ">=" 2
	target "TCP route msgs/s / websockify" \
	    "$(ratio "$(med echo.wsbridge-tcp $m)" \
	    "$(med echo.websockify $m)")" ">=" 10
	target "TCP route msgs/s / raw TCP echo" \
	    "$(ratio "$(med echo.wsbridge-tcp $m)" "$(med echo.raw $m)")" \
	    ">=" 0.40
	reference "  plain TCP relay msgs/s / raw TCP echo" \
	    "$(ratio "$(med echo.relay $m)" "$(med echo.raw $m)")"
	target "process connect sessions/s / websocketd" \
	    "$(ratio "$(med connect.wsbridge-text $s)" \
	    "$(med connect.websocketd-text $s)")" ">=" 3
	reference "  limit here: cat spawn+exit/s / websocketd" \
	    "$(ratio "$(maxof "$(med connect.spawn-1 $s)" \
	    "$(med connect.spawn-10 $s)")" "$(med connect.websocketd-text $s)")"
	target "TCP connect sessions/s / websockify" \
	    "$(ratio "$(med connect.wsbridge-tcp $s)" \
	    "$(med connect.websockify $s)")" ">=" 20
	target "idle RSS bytes/conn ($IDLE TCP-route conns)" \
	    "$(med idle.wsbridge-tcp bytes_per_conn)" "<=" 8192
	target "16 MiB through TCP route, MB/s" \
	    "$(med large.wsbridge-tcp mb_per_s)" ">=" 1000
	reference "  plain TCP relay (no WebSocket), MB/s" \
	    "$(med large.relay mb_per_s)"
	target "p99 100x1x64: websocketd p99 / wsbridge p99" \
	    "$(ratio "$(med p99.websocketd-text p99_us)" \
	    "$(med p99.wsbridge-text p99_us)")" ">=" 1
	print_tls_targets
	print_stream
}

# The fallback transport against WebSocket on one writing route.
print_stream() {
	local m=msgs_per_s c=cpu_us_per_msg
	printf '\n%-44s %10s\n' "stream route, 64-byte lines (issue 16)" \
	    "measured"
	reference "SSE msgs/s / WebSocket msgs/s" \
	    "$(ratio "$(med stream.sse $m)" "$(med stream.ws $m)")"
	reference "SSE daemon CPU per msg / WebSocket's" \
	    "$(ratio "$(med stream.sse $c)" "$(med stream.ws $c)")"
	reference "long poll msgs/s / WebSocket msgs/s" \
	    "$(ratio "$(med stream.poll $m)" "$(med stream.ws $m)")"
	reference "long poll daemon CPU per msg / WebSocket's" \
	    "$(ratio "$(med stream.poll $c)" "$(med stream.ws $c)")"
	reference "POST input msgs/s (a connection each)" \
	    "$(med stream.post $m)"
}

print_tls_targets() {
	local m=msgs_per_s b=mb_per_s c=cpu_us_per_msg s=cpu_us_per_session
	printf '\n%-44s %10s   %s\n' "target (issue 18, wss)" "measured" "goal"
	target "bulk 10x4x16K TCP route MB/s / websockify" \
	    "$(ratio "$(med wss.bulk.wsbridge-tcp $b)" \
	    "$(med wss.bulk.websockify $b)")" ">=" 2.5
	target "bulk TCP route wss MB/s / plain ws MB/s" \
	    "$(ratio "$(med wss.bulk.wsbridge-tcp $b)" \
	    "$(med bulk.wsbridge-tcp $b)")" ">=" 0.6
	target "bulk CPU per 16K / C OpenSSL echo's" \
	    "$(ratio "$(med wss.bulk.wsbridge-tcp $c)" \
	    "$(med wss.bulk.tls-echo $c)")" "<=" 2
	target "bulk process route MB/s / websocketd" \
	    "$(ratio "$(med wss.bulk.wsbridge-binary $b)" \
	    "$(med wss.bulk.websocketd-binary $b)")" ">=" 3
	target "echo 100x16x64 process msgs/s / websocketd" \
	    "$(ratio "$(med wss.echo.wsbridge-binary $m)" \
	    "$(med wss.echo.websocketd-binary $m)")" ">=" 5.6
	target "echo 100x16x64 TCP route msgs/s / websockify" \
	    "$(ratio "$(med wss.echo.wsbridge-tcp $m)" \
	    "$(med wss.echo.websockify $m)")" ">=" 9.9
	target "idle wss RSS bytes/conn ($IDLE conns)" \
	    "$(med idle.wss.wsbridge-tcp bytes_per_conn)" "<=" 10240
	reference "  OpenSSL alone, same SSL_CTX (tls_idle)" \
	    "$(med idle.tls-floor bytes_per_conn)"
	# each loop's first session has no ticket to offer
	reference "  sessions resumed (--resume), wsbridge" \
	    "$(ratio "$(med wss.resume.wsbridge-tcp resumed)" \
	    "$(med wss.resume.wsbridge-tcp sessions)")"
	reference "  sessions resumed (--resume), C OpenSSL echo" \
	    "$(ratio "$(med wss.resume.tls-echo resumed)" \
	    "$(med wss.resume.tls-echo sessions)")"
	reference "  resumed / full handshake CPU per session" \
	    "$(ratio "$(med wss.resume.wsbridge-tcp $s)" \
	    "$(med wss.connect.wsbridge-tcp $s)")"
	reference "  full handshake CPU / C OpenSSL echo's" \
	    "$(ratio "$(med wss.connect.wsbridge-tcp $s)" \
	    "$(med wss.connect.tls-echo $s)")"
}

# The wsbridge fan-out rows need shared sessions (`share = route`).
fanout_check() {
	FANOUT_WSB=yes
	FANOUT_WHY=
	if ! fanout_config "$OUT/fanout-check.ini" 1; then
		FANOUT_WSB=no
		FANOUT_WHY="this wsbridge has no share = route (issue 15): $(
		    "$WSB" -c "$OUT/fanout-check.ini" --check 2>&1 |
		    head -n 1)"
		echo "bench: $FANOUT_WHY" >&2
	fi
}

main() {
	build
	install_peers
	idle_count
	rm -rf "$OUT"
	mkdir -p "$OUT"
	: >"$RES"
	make_cert
	stream_config
	ECHO_PORT=$(free_port)
	start_server "$OUT/echo_server.log" "$ECHO_PORT" \
	    "$B/bench/echo_server" --port "$ECHO_PORT" || exit 1
	RELAY_PORT=$(free_port)
	start_server "$OUT/tcp_relay.log" "$RELAY_PORT" \
	    "$B/bench/tcp_relay" --port "$RELAY_PORT" --to "$ECHO_PORT" ||
	    exit 1
	fanout_check
	echo "bench: $RUNS rounds of ${SECS}s loads (websockify: $RUNS_WSF)," \
	    "logs in $OUT" >&2
	for ROUND in $(seq "$RUNS"); do
		[ "${BENCH_ONLY:-}" = fanout ] || round
		fanout_round
	done
	ROUND=1		# the extras run once, websockify's included
	[ "${BENCH_ONLY:-}" = fanout ] || extras
	echo >&2
	{
		echo "wsbridge benchmark: $(nproc) CPUs," \
		    "$(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)," \
		    "medians of $RUNS x ${SECS}s (websockify: $RUNS_WSF), loopback"
		if [ "${BENCH_ONLY:-}" != fanout ]; then
			print_medians
			print_targets
		fi
		print_fanout
		print_fanout_targets
	} | tee "$OUT/table.txt"
}

main
