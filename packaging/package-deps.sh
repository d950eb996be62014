#!/bin/sh
# Install the Debian packages that `make deb` and the packaging tests need
# (debhelper, dpkg-dev, fakeroot, lintian, groff for the man pages) on top
# of the build dependencies (packaging/deps.sh). Installs when root;
# otherwise prints the apt-get line and fails.
set -e
sh "$(dirname "$0")/deps.sh"
pkgs="debhelper dpkg-dev fakeroot lintian groff-base man-db adduser"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wsbridge: missing packaging tools; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "package-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends$missing >/dev/null
