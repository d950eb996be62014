# Shared by run.sh and smoke.sh: free ports, servers started in their own
# process group (so websockify's and websocketd's children go with them),
# readiness polls and cleanup at exit.

BENCH_PIDS=""

free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: poll until PORT accepts, for at most 10 s.
wait_port() {
	local i
	for i in $(seq 200); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_server LOG PORT CMD...: sets SERVER_PID; fails if PORT never opens.
start_server() {
	local log=$1 port=$2
	shift 2
	setsid "$@" >"$log" 2>&1 &
	SERVER_PID=$!
	BENCH_PIDS="$BENCH_PIDS $SERVER_PID"
	if ! wait_port "$port" "$SERVER_PID"; then
		echo "bench: $* did not listen on $port; log:" >&2
		tail -n 20 "$log" >&2
		stop_server "$SERVER_PID"
		return 1
	fi
}

# stop_server PID: TERM to the group, KILL after 0.5 s (websockify ignores
# TERM while it waits for children), then reap.
stop_server() {
	local i
	kill -TERM -- "-$1" 2>/dev/null
	for i in $(seq 10); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	BENCH_PIDS=$(echo "$BENCH_PIDS" | sed "s/ $1\b//")
}

stop_all() {
	local p
	for p in $BENCH_PIDS; do
		stop_server "$p"
	done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# fanout_config FILE PORT [SLOW_CLIENT [LINES_ARGS]]: a wsbridge configuration with one
# shared route, /feed: every client of it reads the one `lines` program
# (issue 15). Returns non-zero when this wsbridge has no shared sessions.
fanout_config() {
	local bin=$B/bench/lines
	case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
	cat >"$1" <<-INI
	[server]
	listen = 127.0.0.1:$2

	[route /feed]
	exec = $bin --size 64${4:+ $4}
	share = route
	slow_client = ${3:-close}
	INI
	"$B/wsbridge" -c "$1" --check >/dev/null 2>&1
}
