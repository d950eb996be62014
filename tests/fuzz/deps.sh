#!/bin/sh
# Install the Debian packages the libFuzzer targets need: clang and its
# runtime (libclang_rt.fuzzer, ASan, UBSan). Build dependencies of the
# modules themselves come from packaging/deps.sh. Prints the apt-get line
# when not root.
set -e
pkgs="clang-14 libclang-rt-14-dev libfuzzer-14-dev libinih-dev libssl-dev
    node-llhttp"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "ok installed" || missing="$missing $p"
done
command -v clang >/dev/null 2>&1 || missing="$missing clang"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wsbridge: missing packages for fuzzing; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "fuzz deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends$missing >/dev/null
