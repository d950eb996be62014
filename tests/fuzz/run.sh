#!/bin/sh
# Run the libFuzzer targets: run.sh fuzz|smoke SECONDS TARGET...
# First each target replays its kept crash inputs (tests/fuzz/regressions/
# TARGET/, plain runs, no fuzzing), then fuzzes for SECONDS from its seeds
# copied to build/fuzz/corpus/TARGET, which keeps what it finds so the
# repository is not touched. A new crash input is copied into the
# regressions directory, to be committed with its fix. One summary line
# per target; the log of a failing one. Exit 1 if any target failed.
FB=build/fuzz
mode=$1 secs=$2
shift 2
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fail=0

# Replay tests/fuzz/regressions/$1; 0 if none or all pass.
replay() {
	dir=tests/fuzz/regressions/$1
	set -- "$dir"/*
	[ -e "$1" ] || return 0
	if ! "$FB/fuzz_$t" "$@" >"$FB/logs/$t.regress.log" 2>&1; then
		echo "--- fuzz_$t: a regression input fails:"
		brief <"$FB/logs/$t.regress.log"
		return 1
	fi
	echo "fuzz_$t: $# regression inputs pass"
}

# A failure's report without libFuzzer's own frames and chatter.
brief() {
	sed -n '/^Running: \|ERROR\|runtime error\|Assertion\|^==/,$p' |
	    grep -v 'fuzzer::\|^INFO:\|^NOTE:\|Combine libFuzzer\|^stat::' |
	    sed 's/ (BuildId: [0-9a-f]*)//' | head -n 40
}

# The figures libFuzzer prints with -print_final_stats=1.
stat() {
	sed -n "s/^stat::$1: *//p" "$FB/logs/$t.log" | tail -n 1
}

for t in "$@"; do
	mkdir -p "$FB/corpus/$t" "$FB/crashes/$t" "$FB/logs"
	replay "$t" || fail=1
	cp -R "tests/fuzz/corpus/$t/." "$FB/corpus/$t/"
	opts=""
	case $t in
	handshake|url) opts=-dict=tests/fuzz/http.dict ;;
	# Each input is checked at many cuts: long ones only slow it down.
	utf8) opts=-max_len=512 ;;
	# Past PTY_MAX_CONTROL (4096) and the options byte.
	pty) opts="-max_len=4200 -dict=tests/fuzz/pty.dict" ;;
	esac
	# shellcheck disable=SC2086
	if "$FB/fuzz_$t" -max_total_time="$secs" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$FB/crashes/$t/" \
	    $opts $FUZZ_ARGS "$FB/corpus/$t" >"$FB/logs/$t.log" 2>&1; then
		echo "fuzz_$t: $(stat number_of_executed_units) runs in" \
		    "$secs s, $(stat average_exec_per_sec)/s," \
		    "$(ls "$FB/corpus/$t" | wc -l) corpus files"
		continue
	fi
	fail=1
	echo "--- fuzz_$t failed ($FB/logs/$t.log):"
	brief <"$FB/logs/$t.log"
	mkdir -p "tests/fuzz/regressions/$t"
	for f in "$FB/crashes/$t"/*; do
		[ -e "$f" ] || continue
		cp "$f" "tests/fuzz/regressions/$t/"
		echo "kept $f in tests/fuzz/regressions/$t/"
	done
	rm -f "$FB/crashes/$t"/*
done
[ "$mode" = smoke ] && [ "$fail" -eq 0 ] && echo "fuzz-smoke: all targets pass"
exit "$fail"
