#!/bin/sh
# What the libFuzzer targets need: packaging/deps.sh's fuzz group.
exec sh "$(dirname "$0")/../../packaging/deps.sh" fuzz
