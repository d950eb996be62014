# Browser tests (issue 5): examples/terminal and examples/vnc in Debian's
# Chromium, driven by playwright-core. Included by the top Makefile.
#
#   make browser-deps   npm ci in examples/ (xterm.js, noVNC): the pages' assets
#   make browser-test   also chromium, xvfb, x11vnc (as root) and
#                       playwright-core, then node --test tests/browser/
#
# WSB_KEEP=1 keeps every test's temp dir (screenshots, logs, configs).

.PHONY: browser-deps browser-test-deps browser-test

browser-deps:
	@sh packaging/browser-deps.sh

browser-test-deps:
	@sh packaging/browser-deps.sh test

# One file at a time: each starts its own Chromium, X and VNC servers.
# BROWSER_TESTS="tests/browser/X.test.mjs ...": only those files (make
# test runs package.test.mjs from the integration suite's package test,
# while that one has the .deb installed).
BROWSER_TESTS ?= $(sort $(wildcard tests/browser/*.test.mjs))
browser-test: all browser-test-deps
	@WSBRIDGE_BIN=$(CURDIR)/$(B)/wsbridge node --test --test-concurrency=1 \
	    $(BROWSER_TESTS)
