#!/bin/sh
# Browser assets and browser-test tools (issue 5).
#
#   sh packaging/browser-deps.sh          npm ci in examples/ (xterm.js, noVNC)
#   sh packaging/browser-deps.sh test     also npm ci in tests/browser/
#                                         (playwright-core) and Debian's
#                                         chromium, xvfb, xsetroot, x11vnc
#
# npm packages are pinned by examples/package-lock.json and
# tests/browser/package-lock.json. playwright-core drives Debian's
# /usr/bin/chromium: no browser is ever downloaded (never run
# "npx playwright install"). Debian packages are installed only as root;
# otherwise the apt-get line is printed and the script fails.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages first: npm itself may be among them (unless node and npm
# came with another package, e.g. nodejs).
DEB="chromium xvfb x11-xserver-utils"
[ "$1" = test ] || DEB=""
missing=""
command -v npm >/dev/null 2>&1 || missing=" npm"
for p in $DEB; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
# Either VNC server does; x11vnc is preferred (it serves an existing Xvfb).
if [ "$1" = test ] && ! command -v x11vnc >/dev/null 2>&1 &&
    ! command -v Xvnc >/dev/null 2>&1; then
	missing="$missing x11vnc"
fi
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "wsbridge: missing packages; run as root:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
	echo "browser-deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Wait for another apt-get (e.g. packaging/deps.sh) rather than fail.
	apt-get -o DPkg::Lock::Timeout=300 update -qq
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
	    --no-install-recommends$missing >/dev/null
fi

# npm ci only when the lockfile changed since the last install: it wipes
# node_modules first and takes seconds even when nothing changed.
npm_ci() {
	d="$top/$1"
	if [ -f "$d/node_modules/.package-lock.json" ] &&
	    [ ! "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
		return 0
	fi
	echo "browser-deps: npm ci in $1" >&2
	(cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
# The two installs side by side: each mostly waits on the registry (about
# 25 s wall for 2 CPU s here).
if [ "$1" = test ]; then
	npm_ci tests/browser &
	pid=$!
	npm_ci examples
	wait "$pid"
else
	npm_ci examples
fi
exit 0
