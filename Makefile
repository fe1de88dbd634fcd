# silo build. `make` builds build/silo; `make run` and `make test` are the two
# commands of the README (both install what they need first); `make fuzz` and
# `make bench` are the long-running extras.

CC      ?= gcc
BUILD   := build
PKGS    := libmicrohttpd libcurl openssl jansson sqlite3 libpq libavformat libavcodec \
           libswresample libswscale libavutil pocketsphinx libmagic expat zlib
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -Isrc -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(WARN)
LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

RELEASE_CFLAGS = $(CFLAGS_COMMON) -O2 -g
ASAN_CFLAGS    = $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS    = $(CFLAGS_COMMON) -O1 -g -fsanitize=fuzzer-no-link,address,undefined

LIB_SRCS  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
WEB_FILES := $(shell find web -type f 2>/dev/null | sort)
GEN_HDR   := $(BUILD)/gen/web_assets.h
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

REL_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/release/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/unit/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/bin/%)

.PHONY: all asan unit run test fuzz bench deps clean format
all: $(BUILD)/silo

$(GEN_HDR): scripts/bin2c.sh $(WEB_FILES)
	@mkdir -p $(dir $@)
	sh scripts/bin2c.sh web > $@.tmp && mv $@.tmp $@

$(BUILD)/release/%.o: %.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/%.o: %.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/%.o: %.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-unused-command-line-argument -MMD -MP -c $< -o $@

$(BUILD)/release/libsilo.a: $(REL_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/asan/libsilo.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/libsilo.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/silo: $(BUILD)/release/src/main.o $(BUILD)/release/libsilo.a
	$(CC) $(RELEASE_CFLAGS) $^ $(LIBS) -o $@
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

deps:
	sh scripts/deps.sh build

run:
	sh scripts/deps.sh build
	$(MAKE) all
	sh scripts/run.sh

test:
	sh scripts/deps.sh test
	$(MAKE) -j$$(nproc) all asan unit
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
