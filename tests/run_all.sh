#!/bin/bash
# `make test`: every stage of the suite, then one summary line a person can
# read. A stage's output is kept in build/test-logs/ and shown when it fails.
#   stages: unit, integration, unit+integration under ASan/UBSan,
#           browser (Chromium), fuzz smoke, benchmark smoke
# WSB_STAGES="unit integration" limits the run to those stages.
#
# Most of the integration suite waits on sockets and processes, so it runs
# under pytest-xdist (WSB_JOBS workers, default 6), the plain and the
# sanitizer builds side by side with the unit, browser, fuzz and benchmark
# smoke stages (none of them measures time: fuzz-smoke fuzzes 5 s per
# target, bench-smoke fails only on errors); tests marked `serial` (load,
# timing, the machine's process table) then run alone, one at a time.
# Each stage's line gives its wall and CPU seconds and when it started.
set -u
cd "$(dirname "$0")/.."
logs=build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
passed=0 failed=0 summary=""
start=${EPOCHREALTIME/./}
stages=${WSB_STAGES:-"unit integration sanitize browser fuzz bench"}
jobs=${WSB_JOBS:-6}

# Count "N passed"/"N failed" (pytest, unit), "# pass N"/"# fail N" (node).
count() {
	local log=$1 p f
	p=$(grep -Eo '([0-9]+) passed' "$log" | tail -1 | grep -Eo '[0-9]+')
	f=$(grep -Eo '([0-9]+) (failed|error)' "$log" | grep -Eo '[0-9]+' |
	    paste -sd+ | bc 2>/dev/null)
	if [ -z "$p" ]; then
		p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
		f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
	fi
	echo "${p:-0} ${f:-0}"
}

# The CPU seconds (user+sys) of this shell's children that have ended, as
# ticks in $ticks; read from /proc without a fork, so that it is this
# shell's count (a stage run in the background has a shell of its own).
hz=$(getconf CLK_TCK)
child_ticks() {
	local s
	read -r s <"/proc/$BASHPID/stat"
	set -- ${s##*) }
	ticks=$((${14} + ${15}))
}

# run NAME CMD...: run a stage, its output in $logs/NAME.log, its exit
# status in $logs/NAME.rc (and as its own), "WALL CPU" seconds in
# $logs/NAME.time. Stages may run in the background (run ... &).
run() {
	local name=$1 t0=${EPOCHREALTIME/./} ticks c0 rc
	shift
	child_ticks
	c0=$ticks
	"$@" >"$logs/$name.log" 2>&1
	rc=$?
	echo $rc >"$logs/$name.rc"
	child_ticks
	echo "$(((${EPOCHREALTIME/./} - t0) / 1000000))" \
	    "$(((ticks - c0) / hz))" "$(((t0 - start) / 1000000))" \
	    >"$logs/$name.time"
	return $rc
}

# tally NAME: add a finished stage's counts to the totals; show its log
# when it failed.
tally() {
	local name=$1 log="$logs/$1.log" rc p f wall cpu at
	rc=$(cat "$logs/$name.rc" 2>/dev/null || echo 1)
	read -r p f <<<"$(count "$log")"
	# A stage that fails without counted failures counts as one failure.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	[ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && p=1
	if [ "$rc" -ne 0 ]; then
		echo "-- $name failed (exit $rc); last lines of $log:"
		tail -n 60 "$log"
	fi
	read -r wall cpu at <"$logs/$name.time" 2>/dev/null ||
	    wall=? cpu=? at=?
	echo "   $name: $p passed, $f failed ($wall s from +$at s, CPU $cpu s)"
	passed=$((passed + p))
	failed=$((failed + f))
	summary="$summary $name=$p/$f"
}

stage() {
	echo "== $1"
	run "$@"
	tally "$1"
}

want() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }

py="/usr/bin/python3 -m pytest -q -p no:cacheprovider --timeout 120"
# Ports: each suite takes (WSB_JOBS + 1) x 400 from its base, the plain
# one from WSB_PORT_BASE (default 20000), the sanitizer's from 6000 above:
# a second make test at once on the machine needs another base.
port_base=${WSB_PORT_BASE:-20000}
plain="env WSBRIDGE_BIN=$PWD/build/wsbridge WSB_PORT_BASE=$port_base"
san="env WSBRIDGE_BIN=$PWD/build/san/wsbridge
    WSB_PORT_BASE=$((port_base + 6000))
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"

# Everything that does not need the machine to itself runs at once, as
# chains of stages (one background job each), tallied in order below. The
# longest chain is the sanitizer build and run; the rest fits beside it.
mk="make --no-print-directory"
par=""
job() { par="$par $*"; }
# bench-smoke runs its tools for a second each: niced, like fuzz-smoke.
if want unit || want bench; then
	(want unit && run unit $mk -j2 unit
	    want bench && run bench nice -n 10 $mk bench-smoke) &
	want unit && job unit
	want bench && job bench
fi
# The Chromium stage runs its files one at a time and mostly waits: it
# starts first, beside everything else. The browser's package test needs
# the .deb installed: with the integration stage, its package test runs it
# (WSB_DEB_BROWSER=1) between its own apt install and purge, so that the
# package is built, installed and purged once.
browser_rest=""
for f in tests/browser/*.test.mjs; do
	[ "$f" = tests/browser/package.test.mjs ] ||
	    browser_rest="$browser_rest $f"
done
if want browser; then
	want integration ||
	    browser_rest="tests/browser/package.test.mjs$browser_rest"
	run browser $mk browser-test BROWSER_TESTS="$browser_rest" &
	job browser
fi
if want integration; then
	deb_browser=0
	want browser && deb_browser=1
	run integration $plain WSB_DEB_BROWSER=$deb_browser $py -n "$jobs" \
	    -m "not serial" tests/integration &
	job integration
fi
if want sanitize; then
	# The integration run needs only the binary, not the unit tests.
	(run sanitize-build $mk -j2 SANITIZE=1 all || exit
	    run sanitize-unit $mk SANITIZE=1 unit &
	    run sanitize $san $py -n "$jobs" -m "not serial" \
	    tests/integration &
	    wait) &
	job sanitize-build sanitize-unit sanitize
fi
# fuzz-smoke lasts 5 s per target however busy the machine is: niced, it
# fuzzes with the CPU the other stages leave.
if want fuzz; then
	(run fuzz-build $mk fuzz-build &&
	    run fuzz nice -n 19 $mk fuzz-smoke) &
	job fuzz-build fuzz
fi
echo "== in parallel:$par"
t=${EPOCHREALTIME/./}
wait
echo "   (together $(((${EPOCHREALTIME/./} - t) / 1000000)) s)"
for s in $par; do
	[ -e "$logs/$s.rc" ] || echo 1 >"$logs/$s.rc"
	tally "$s"
done

# Load, timing and the machine's process table: alone, one at a time.
want integration && stage integration-serial $plain $py --durations=8 -m serial \
    tests/integration
want sanitize && stage sanitize-serial $san $py --durations=8 -m serial \
    tests/integration
echo "stages:$summary"
t=$(((${EPOCHREALTIME/./} - start) / 1000000))
echo "took $((t / 60)) min $((t % 60)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
