#!/bin/sh
# Install the Debian packages of the groups named (default: build):
#   build    compiling wsbridge
#   test     running its test suite (with build)
#   package  make deb and the packaging tests (with build)
#   fuzz     the libFuzzer targets
# Installs what is missing when root; otherwise prints the apt-get line.
set -e
BUILD="gcc make libev-dev libssl-dev libinih-dev libjson-c-dev libcrypt-dev node-llhttp zlib1g-dev"
TEST="python3 python3-pytest python3-pytest-timeout python3-pytest-xdist python3-websockets procps openssl bc groff-base man-db prometheus"
PACKAGE="debhelper dpkg-dev fakeroot lintian groff-base man-db adduser"
FUZZ="clang clang-14 libclang-rt-14-dev libfuzzer-14-dev libinih-dev libssl-dev node-llhttp"
pkgs=""
for group in ${*:-build}; do
	case $group in
	build)		pkgs="$pkgs $BUILD" ;;
	test)		pkgs="$pkgs $BUILD $TEST" ;;
	package)	pkgs="$pkgs $BUILD $PACKAGE" ;;
	fuzz)		pkgs="$pkgs $FUZZ" ;;
	*)		echo "deps.sh: unknown group $group" >&2; exit 2 ;;
	esac
done
missing=""
for p in $pkgs; do
	case " $missing " in *" $p "*) continue ;; esac
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
