# liaison - one plain Makefile. See README.md.
#
#   make              build bin/liaisond and bin/liaison
#   make test         install deps, build, run unit + integration + data tests
#   make run          install deps, build, start the demo hub
#   make bench        benchmarks (prints throughput and ratios)
#   make fuzz         build libFuzzer targets (clang)
#   SANITIZE=address,undefined make test    the same under sanitizers
#
# Objects go to $(BUILD) (build/, or build-san/ for a sanitizer build).

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 libsodium libcurl libpcre2-8 nettle
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -Isrc -g -pthread
OPT     ?= -O2
BUILD   ?= build

ifneq ($(SANITIZE),)
BUILD   := build-san
OPT     := -O1 -fno-omit-frame-pointer
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
ifneq ($(COVERAGE),)
BUILD   := build-cov
SANFLAGS += --coverage
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CFLAGS_BASE) $(OPT) $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -lm

LIB_DIRS := core json stix pattern store policy taxii http client sync
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
SRV_SRC  := $(wildcard src/server/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
SRV_OBJ  := $(SRV_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)

LIBA := $(BUILD)/libliaison.a
BINS := $(BUILD)/liaisond $(BUILD)/liaison

.PHONY: all deps test unit run bench bench-bin fuzz clean check-src
all: $(BINS)

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/liaisond: $(SRV_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(SRV_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/liaison: $(CLI_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS) -lcmocka

# Fuzz targets replayed over their committed corpus (no libFuzzer needed).
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBA) $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BIN) $(FUZZ_REPLAY)

# Benchmark programs: bench/bench_X.c -> $(BUILD)/bench/bench_X, run by bench/run.
$(BUILD)/bench/bench_%: bench/bench_%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

bench-bin: $(BENCH_BIN)

test: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) tests/run

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo

bench: deps
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory all bench-bin
	@BUILD=$(BUILD) bench/run

# libFuzzer builds: make fuzz, then build-fuzz/fuzz_X tests/fuzz/corpus/X
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libliaison.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	    echo "clang $$f -> build-fuzz/$$n"; \
	    clang $(CFLAGS_BASE) -O1 $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	        -o build-fuzz/$$n $$f build-fuzz/libliaison.a $(PKG_LIBS) -lm || exit 1; done

check-src:
	@tools/checksrc

clean:
	rm -rf build build-san build-cov build-fuzz

-include $(LIB_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
