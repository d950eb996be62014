#!/bin/sh
# Run each unit test binary; print only failing output and a summary line.
pass=0 fail=0
for t in "$@"; do
	if out=$("$t" 2>&1); then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "--- $t failed:"; echo "$out"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
