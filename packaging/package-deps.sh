#!/bin/sh
# What `make deb` and the packaging tests need: packaging/deps.sh's groups.
exec sh "$(dirname "$0")/deps.sh" build package
