# Install, uninstall and the Debian package; included by the top Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, man pages, config,
#                                                 examples, systemd unit
#   make uninstall [PREFIX=...] [DESTDIR=]        the same files again; the
#                                                 config only if unchanged
#   make deb                                      $(B)/wsbridge_V_ARCH.deb,
#                                                 checked by lintian
#
# Layout for PREFIX=/usr (the Debian package):
#   /usr/bin/wsbridge, /usr/share/man/man1/wsbridge.1, man5/wsbridge.ini.5,
#   /etc/wsbridge/wsbridge.ini (packaging/wsbridge.ini, never overwritten),
#   /usr/share/wsbridge/www/ (the demo site, the config's static_dir: the
#     pages of examples/ and the browser assets they load from
#     examples/node_modules, which `make browser-deps` installs),
#   /usr/share/wsbridge/examples/ (the rest of examples/: scripts, configs),
#   /usr/share/wsbridge/reference.ini (conf/wsbridge.ini, every key),
#   /lib/systemd/system/wsbridge.service,
#   /etc/logrotate.d/wsbridge.
# Other prefixes keep everything under PREFIX (PREFIX/etc/wsbridge,
# PREFIX/lib/systemd/system), with the paths inside the installed config
# and unit rewritten to match.
#
# The package: `make deb` copies the tree (no build/; of node_modules only
# SITE_ASSETS) to
# $(B)/deb/wsbridge-VERSION/, puts packaging/debian/ there as debian/ with a
# changelog for VERSION from src/version.h, and runs
# `dpkg-buildpackage -b -us -uc` (debhelper 13: dh_installsystemd enables
# the unit, dh_installdeb marks /etc files as conffiles). postinst adds the
# system user wsbridge; postrm purge removes it, the logs and /etc/wsbridge.
# packaging/package-deps.sh installs the tools it needs (as root).

BINDIR	?= $(PREFIX)/bin
DATADIR	?= $(PREFIX)/share
MANDIR	?= $(DATADIR)/man
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
UNITDIR	?= /lib/systemd/system
else
SYSCONFDIR ?= $(PREFIX)/etc
UNITDIR	?= $(PREFIX)/lib/systemd/system
endif
PKG_VERSION := $(shell sed -n \
	's/^\#define[ 	]*WSBRIDGE_VERSION[ 	]*"\([^"]*\)".*/\1/p' src/version.h)
PKG_STAGE := $(B)/deb/wsbridge-$(PKG_VERSION)
PKG_GEN	:= $(B)/pkg
# Rewrites the Debian paths in the config and unit for this PREFIX.
PKG_SED	:= sed -e 's|/usr/share/wsbridge|$(DATADIR)/wsbridge|g' \
	-e 's|/etc/wsbridge|$(SYSCONFDIR)/wsbridge|g' \
	-e 's|/usr/bin/wsbridge|$(BINDIR)/wsbridge|g'
EXAMPLE_FILES = $(shell find examples -type f ! -path '*/node_modules/*' \
	! -path 'examples/casts/*' \
	! -name '.*' | LC_ALL=C sort)
# The demo site: what a browser may fetch, nothing else (no configs, no
# package.json). Pages, their scripts and styles, the favicon.
SITE_FILES = $(filter %.html %.js %.css %.svg,$(EXAMPLE_FILES))
# What the terminal and VNC pages load from examples/node_modules (licences
# in debian/copyright; source maps left out).
SITE_ASSETS = @xterm/xterm/css/xterm.css @xterm/xterm/lib/xterm.mjs \
	@xterm/addon-fit/lib/addon-fit.mjs @novnc/novnc/core \
	@novnc/novnc/vendor/pako/lib \
	asciinema-player/dist/bundle/asciinema-player.min.js \
	asciinema-player/dist/bundle/asciinema-player.css

.PHONY: install uninstall deb package-deps

package-deps:
	@sh packaging/package-deps.sh

$(PKG_GEN)/wsbridge.ini: packaging/wsbridge.ini FORCE_PKG_GEN
	@mkdir -p $(PKG_GEN)
	$(Q)$(PKG_SED) packaging/wsbridge.ini >$@

$(PKG_GEN)/wsbridge.service: packaging/wsbridge.service FORCE_PKG_GEN
	@mkdir -p $(PKG_GEN)
	$(Q)$(PKG_SED) packaging/wsbridge.service >$@

# PREFIX can change between runs: always regenerate.
.PHONY: FORCE_PKG_GEN
FORCE_PKG_GEN:

install: all $(PKG_GEN)/wsbridge.ini $(PKG_GEN)/wsbridge.service
	@echo "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/wsbridge/examples \
	    $(DESTDIR)$(DATADIR)/wsbridge/www \
	    $(DESTDIR)$(SYSCONFDIR)/wsbridge \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(UNITDIR)
	$(Q)install -m 755 $(B)/wsbridge $(DESTDIR)$(BINDIR)/wsbridge
	$(Q)install -m 644 man/wsbridge.1 $(DESTDIR)$(MANDIR)/man1/wsbridge.1
	$(Q)install -m 644 man/wsbridge.ini.5 \
	    $(DESTDIR)$(MANDIR)/man5/wsbridge.ini.5
	$(Q)for f in $(filter-out $(SITE_FILES),$(EXAMPLE_FILES)); do \
		if [ -x "$$f" ]; then m=755; else m=644; fi; \
		install -D -m $$m "$$f" \
		    "$(DESTDIR)$(DATADIR)/wsbridge/$$f" || exit 1; \
	done
	$(Q)for f in $(SITE_FILES:examples/%=%); do \
		install -D -m 644 "examples/$$f" \
		    "$(DESTDIR)$(DATADIR)/wsbridge/www/$$f" || exit 1; \
	done
	$(Q)if [ -d examples/node_modules/@xterm/xterm ]; then \
		(cd examples/node_modules && find $(SITE_ASSETS) -type f \
		    ! -name '*.map' ! -name '.*') | while read -r f; do \
			install -D -m 644 "examples/node_modules/$$f" \
			    "$(DESTDIR)$(DATADIR)/wsbridge/www/node_modules/$$f" \
			    || exit 1; \
		done; \
	else \
		echo "  NOTE    no examples/node_modules (make browser-deps):" \
		    "the terminal and VNC pages will not load"; \
	fi
	$(Q)install -m 644 conf/wsbridge.ini \
	    $(DESTDIR)$(DATADIR)/wsbridge/reference.ini
	$(Q)cfg=$(DESTDIR)$(SYSCONFDIR)/wsbridge/wsbridge.ini; \
	if [ -e "$$cfg" ] && ! cmp -s "$$cfg" $(PKG_GEN)/wsbridge.ini; then \
		echo "  KEEP    $$cfg (yours; new one not installed)"; \
	else \
		install -m 644 $(PKG_GEN)/wsbridge.ini "$$cfg"; \
	fi
	$(Q)install -m 644 $(PKG_GEN)/wsbridge.service \
	    $(DESTDIR)$(UNITDIR)/wsbridge.service
	$(Q)install -m 644 packaging/wsbridge.logrotate \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/wsbridge

uninstall: $(PKG_GEN)/wsbridge.ini
	@echo "  UNINSTALL $(DESTDIR)$(PREFIX)"
	$(Q)rm -f $(DESTDIR)$(BINDIR)/wsbridge \
	    $(DESTDIR)$(MANDIR)/man1/wsbridge.1 \
	    $(DESTDIR)$(MANDIR)/man5/wsbridge.ini.5 \
	    $(DESTDIR)$(UNITDIR)/wsbridge.service \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/wsbridge
	$(Q)rm -rf $(DESTDIR)$(DATADIR)/wsbridge
	$(Q)cfg=$(DESTDIR)$(SYSCONFDIR)/wsbridge/wsbridge.ini; \
	if cmp -s "$$cfg" $(PKG_GEN)/wsbridge.ini; then rm -f "$$cfg"; \
	elif [ -e "$$cfg" ]; then echo "  KEEP    $$cfg (changed)"; fi; \
	rmdir $(DESTDIR)$(SYSCONFDIR)/wsbridge 2>/dev/null || true

# The changelog carries the version of src/version.h and the date of the
# last commit (now, outside git), so rebuilding a commit gives the same one.
deb: package-deps browser-deps
	@echo "  DEB   $(PKG_STAGE)"
	$(Q)rm -rf $(B)/deb && mkdir -p $(PKG_STAGE)/examples/node_modules
	$(Q)tar -cf - --exclude=node_modules --exclude=__pycache__ Makefile \
	    src conf examples man packaging tests/unit | tar -xf - -C $(PKG_STAGE)
	$(Q)tar -cf - -C examples/node_modules --exclude='*.map' $(SITE_ASSETS) | \
	    tar -xf - -C $(PKG_STAGE)/examples/node_modules
	$(Q)cp -R packaging/debian $(PKG_STAGE)/debian
	$(Q)date=$$(git log -1 --format=%cD 2>/dev/null || date -R); \
	{ echo "wsbridge ($(PKG_VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Built from the wsbridge source tree (make deb)."; echo; \
	  echo " -- wsbridge maintainers <wsbridge@example.org>  $$date"; \
	} >$(PKG_STAGE)/debian/changelog
	$(Q)cd $(PKG_STAGE) && dpkg-buildpackage -b -us -uc \
	    >../dpkg-buildpackage.log 2>&1 || \
	    { tail -40 ../dpkg-buildpackage.log; exit 1; }
	$(Q)rm -f $(B)/wsbridge_*.deb
	$(Q)cp $(B)/deb/wsbridge_$(PKG_VERSION)_*.deb $(B)/
	@echo "  LINT  $$(ls $(B)/wsbridge_$(PKG_VERSION)_*.deb)"
	$(Q)lintian --fail-on error --display-level '>=warning' \
	    $(B)/wsbridge_$(PKG_VERSION)_*.deb
	@ls $(B)/wsbridge_$(PKG_VERSION)_*.deb
