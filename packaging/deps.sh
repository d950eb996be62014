#!/bin/sh
# Install the Debian packages wsbridge needs to build (and, with "test",
# to run its test suite). Prints the apt-get line when not root.
set -e
BUILD="gcc make libev-dev libssl-dev libinih-dev libjson-c-dev libcrypt-dev node-llhttp zlib1g-dev"
TEST="python3 python3-pytest python3-pytest-timeout python3-websockets procps openssl bc groff-base man-db"
pkgs="$BUILD"
[ "$1" = test ] && pkgs="$BUILD $TEST"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wsbridge: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends$missing >/dev/null
