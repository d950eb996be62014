#!/bin/sh
# Count from 1 to 10, one number a second: one WebSocket message each.
i=1
while [ "$i" -le 10 ]; do
	echo "$i"
	i=$((i + 1))
	[ "$i" -le 10 ] && sleep 1
done
exit 0
