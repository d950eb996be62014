#!/bin/bash
# bench-smoke: one second of wsbench echo against wsbridge --echo. Fails
# only when wsbench reports an error, never on numbers.
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
B=${B:-build}
port=$(free_port)
log=$(mktemp /tmp/wsbench-smoke.XXXXXX)
start_server "$log" "$port" "$B/wsbridge" --port "$port" \
    --address 127.0.0.1 --echo || exit 1
if ! timeout 30 "$B/bench/wsbench" echo --port "$port" --conns 2 \
    --seconds 1; then
	echo "bench-smoke: wsbench failed; server log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
rm -f "$log"
