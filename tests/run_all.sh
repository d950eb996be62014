#!/bin/bash
# `make test`: every stage of the suite, then one summary line a person can
# read. A stage's output is kept in build/test-logs/ and shown when it fails.
#   stages: unit, integration, unit+integration under ASan/UBSan,
#           browser (Chromium), fuzz smoke, benchmark smoke
# WSB_STAGES="unit integration" limits the run to those stages.
set -u
cd "$(dirname "$0")/.."
logs=build/test-logs
mkdir -p "$logs"
passed=0 failed=0 summary=""
stages=${WSB_STAGES:-"unit integration sanitize browser fuzz bench"}

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

stage() {
	local name=$1 log="$logs/$1.log" rc p f
	shift
	echo "== $name: $*"
	"$@" >"$log" 2>&1
	rc=$?
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
	echo "   $name: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
	summary="$summary $name=$p/$f"
}

py="/usr/bin/python3 -m pytest -q -p no:cacheprovider --timeout 120"
for s in $stages; do
	case $s in
	unit)		stage unit make --no-print-directory unit ;;
	integration)	stage integration env WSBRIDGE_BIN="$PWD/build/wsbridge" \
			    $py tests/integration ;;
	sanitize)	stage sanitize-build make --no-print-directory \
			    SANITIZE=1 unit
			stage sanitize env WSBRIDGE_BIN="$PWD/build/san/wsbridge" \
			    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			    $py tests/integration ;;
	browser)	stage browser make --no-print-directory browser-test ;;
	fuzz)		stage fuzz make --no-print-directory fuzz-smoke ;;
	bench)		stage bench make --no-print-directory bench-smoke ;;
	esac
done
echo "stages:$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
