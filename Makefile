# silo build. `make` builds build/silo; `make run` and `make test` are the two
# commands of the README (both install what they need first); `make fuzz` and
# `make bench` are the long-running extras. `make install` (PREFIX, DESTDIR)
# puts the binary, silo(1), the example configuration and the systemd unit
# in place; `make deb` builds the Debian package (packaging/deb.sh).

CC      ?= gcc
BUILD   := build
PKGS    := libmicrohttpd libcurl openssl jansson sqlite3 libpq libavformat libavcodec \
           libswresample libswscale libavutil pocketsphinx libmagic expat zlib libsystemd
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -Isrc -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(WARN)
LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

# EXTRA_CFLAGS / EXTRA_LDFLAGS: added to the release build (`make deb` passes
# Debian's hardening flags from dpkg-buildflags; the upgrade test, -O0).
RELEASE_CFLAGS = $(CFLAGS_COMMON) -O2 -g $(EXTRA_CFLAGS)
ASAN_CFLAGS    = $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS    = $(CFLAGS_COMMON) -O1 -g -fsanitize=fuzzer-no-link,address,undefined

LIB_SRCS  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
WEB_FILES := $(shell find web -type f 2>/dev/null | sort)
GEN_HDR   := $(BUILD)/gen/web_assets.h
VER_HDR   := $(BUILD)/gen/version_gen.h
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

REL_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/release/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/unit/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/bin/%)

.PHONY: all asan unit run test fuzz bench deps clean format doc install install-files deb next-schema FORCE
all: $(BUILD)/silo

$(GEN_HDR): scripts/bin2c.sh $(WEB_FILES)
	@mkdir -p $(dir $@)
	sh scripts/bin2c.sh web > $@.tmp && mv $@.tmp $@

# The version and the commit (scripts/version.sh), rewritten only when they
# change so that a commit rebuilds util/version.o (its .d file names the
# header; the other objects wait for it only to exist) and relinks.
$(VER_HDR): FORCE
	@mkdir -p $(dir $@)
	@sh scripts/version.sh header > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/release/%.o: %.c $(GEN_HDR) | $(VER_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/%.o: %.c $(GEN_HDR) | $(VER_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/%.o: %.c $(GEN_HDR) | $(VER_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-unused-command-line-argument -MMD -MP -c $< -o $@

$(BUILD)/release/libsilo.a: $(REL_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/asan/libsilo.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/libsilo.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/silo: $(BUILD)/release/src/main.o $(BUILD)/release/libsilo.a
	$(CC) $(RELEASE_CFLAGS) $(EXTRA_LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/asan/silo: $(BUILD)/asan/src/main.o $(BUILD)/asan/libsilo.a
	$(CC) $(ASAN_CFLAGS) $^ $(LIBS) -o $@

$(BUILD)/asan/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/asan/libsilo.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -Itests/unit $< $(BUILD)/asan/libsilo.a $(LIBS) -lcmocka -o $@

$(BUILD)/fuzz/bin/%: tests/fuzz/%.c $(BUILD)/fuzz/libsilo.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(BUILD)/fuzz/libsilo.a $(LIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(BUILD)/release/libsilo.a
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) $< $(BUILD)/release/libsilo.a $(LIBS) -o $@

asan: $(BUILD)/asan/silo
unit: $(UNIT_BINS)

# ---- installation ----
# silo(1) and the example configuration are written by the binary from its
# own commands and settings tables (src/help.c), so they cannot drift.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
LIBDIR     ?= $(PREFIX)/lib
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
STATEDIR   ?= /var/lib/silo
SILO_BIN   ?= $(BUILD)/silo
SILO_DOC   ?= $(BUILD)/doc

$(BUILD)/doc/silo.1: $(BUILD)/silo
	@mkdir -p $(dir $@)
	$(BUILD)/silo man > $@.tmp && mv $@.tmp $@
$(BUILD)/doc/silo.conf: $(BUILD)/silo
	@mkdir -p $(dir $@)
	env -i $(BUILD)/silo config --example --data $(STATEDIR) > $@.tmp && mv $@.tmp $@

doc: $(BUILD)/doc/silo.1 $(BUILD)/doc/silo.conf

install: all doc
	$(MAKE) install-files

# Copies SILO_BIN and SILO_DOC's silo.1 and silo.conf, built beforehand (the
# packaging calls this with binaries of its own). The unit, sysusers.d and
# tmpfiles.d files get the paths of this installation. The configuration is
# the operator's: an existing one is kept, the new example goes beside it.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@STATEDIR@|$(STATEDIR)|g'
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSCONFDIR)/silo $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(LIBDIR)/sysusers.d $(DESTDIR)$(LIBDIR)/tmpfiles.d
	install -m 0755 $(SILO_BIN) $(DESTDIR)$(BINDIR)/silo
	install -m 0644 $(SILO_DOC)/silo.1 $(DESTDIR)$(MANDIR)/man1/silo.1
	$(SUBST) packaging/silo.service.in > $(DESTDIR)$(UNITDIR)/silo.service
	$(SUBST) packaging/sysusers.conf.in > $(DESTDIR)$(LIBDIR)/sysusers.d/silo.conf
	$(SUBST) packaging/tmpfiles.conf.in > $(DESTDIR)$(LIBDIR)/tmpfiles.d/silo.conf
	chmod 0644 $(DESTDIR)$(UNITDIR)/silo.service $(DESTDIR)$(LIBDIR)/sysusers.d/silo.conf \
	    $(DESTDIR)$(LIBDIR)/tmpfiles.d/silo.conf
	if [ -e $(DESTDIR)$(SYSCONFDIR)/silo/silo.conf ]; then \
	    install -m 0644 $(SILO_DOC)/silo.conf $(DESTDIR)$(SYSCONFDIR)/silo/silo.conf.new; \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/silo/silo.conf; the new example is silo.conf.new"; \
	else \
	    install -m 0644 $(SILO_DOC)/silo.conf $(DESTDIR)$(SYSCONFDIR)/silo/silo.conf; \
	fi

# The Debian package, from its own hardened build in $(BUILD)/deb.
DEB_ENV     := DEB_BUILD_MAINT_OPTIONS=hardening=+all
DEB_CFLAGS   = $(shell $(DEB_ENV) dpkg-buildflags --get CPPFLAGS) $(shell $(DEB_ENV) dpkg-buildflags --get CFLAGS)
DEB_LDFLAGS  = $(shell $(DEB_ENV) dpkg-buildflags --get LDFLAGS)
deb:
	sh scripts/deps.sh build
	$(MAKE) BUILD=$(BUILD)/deb EXTRA_CFLAGS="$(DEB_CFLAGS)" EXTRA_LDFLAGS="$(DEB_LDFLAGS)" all doc
	sh packaging/deb.sh --binary $(BUILD)/deb/silo --doc $(BUILD)/deb/doc --out $(BUILD)

# For the upgrade test (tests/blackbox/test_install.py): this release with
# one migration more, as the next release would have; -O0 to build fast.
next-schema:
	$(MAKE) BUILD=$(BUILD)/next EXTRA_CFLAGS="-O0 -DSILO_TEST_NEXT_MIGRATION=1000" all

deps:
	sh scripts/deps.sh build

run:
	sh scripts/deps.sh build
	$(MAKE) all
	sh scripts/run.sh

test:
	sh scripts/deps.sh test
	$(MAKE) -j$$(nproc) all asan unit doc deb next-schema
	bash scripts/test.sh

fuzz:
	sh scripts/deps.sh build
	$(MAKE) $(FUZZ_BINS)
	bash scripts/fuzz.sh $(FUZZ_BINS)

bench:
	sh scripts/deps.sh bench
	$(MAKE) all
	bash bench/run-all.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(REL_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) $(BUILD)/release/src/main.d $(BUILD)/asan/src/main.d
