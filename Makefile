# z4 - lossless storage of model checkpoints.
#
# Knobs (set on the command line or in an optional config.mk):
#   CC, CFLAGS, LDFLAGS   compiler and flags; warnings are always added
#   PREFIX, DESTDIR       install root (default /usr/local) and staging dir
#   BINDIR, LIBDIR, INCLUDEDIR, MANDIR, PKGCONFIGDIR
#   PKG_CONFIG            pkg-config program
#   V=1                   show the commands
#   SAN=1                 build with AddressSanitizer and UBSan (make asan)

-include config.mk

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PKG_CONFIG ?= pkg-config

VERSION = 0.1.0
SOMAJOR = 0

CC ?= cc
CFLAGS ?= -O3 -g
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# libarchive is loaded when a tar stream comes (container_tar.c): its
# header is needed to build, its library only at run time.
DEPS = libzstd libxxhash jansson
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS) libarchive)
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs $(DEPS)) -lm -pthread -ldl
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -pthread $(CFLAGS) $(WARN) $(DEPS_CFLAGS) -Ilib

ifneq ($(V),1)
Q = @
QCC = @echo '  CC      $@';
QLD = @echo '  LD      $@';
endif

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:.c=.o)
CMD_COMMON = cmd/util.o cmd/pipeline.o cmd/info.o cmd/recode.o
TOOLS = z4split z4pal z4plane z4delta z4pack z4cat z4info z4ai
BINS = $(TOOLS:%=bin/%)
UNIT = tests/unit/test_lib
NOTAR = tests/unit/test_notar
MUTATE = tests/unit/mutate

all: $(BINS) lib/libz4.a lib/libz4.so.$(SOMAJOR)

%.o: %.c lib/z4.h lib/internal.h lib/rangecoder.h lib/hash.h cmd/util.h
	$(QCC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

lib/libz4.a: $(LIB_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $(LIB_OBJ)

lib/libz4.so.$(SOMAJOR): $(LIB_OBJ)
	$(QLD)$(CC) -shared -Wl,-soname,libz4.so.$(SOMAJOR) $(LDFLAGS) \
		-o $@ $(LIB_OBJ) $(DEPS_LIBS)

bin/%: cmd/%.o $(CMD_COMMON) lib/libz4.a
	@mkdir -p bin
	$(QLD)$(CC) $(LDFLAGS) -o $@ $< $(CMD_COMMON) lib/libz4.a $(DEPS_LIBS)

# The .pc file names the install directories, so it is made at install.
libz4.pc: Makefile
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' \
	  'includedir=$(INCLUDEDIR)' '' 'Name: libz4' \
	  'Description: lossless storage of model checkpoints' \
	  'Version: $(VERSION)' 'Requires.private: $(DEPS)' \
	  'Libs.private: -lm -ldl -pthread' \
	  'Libs: -L$${libdir} -lz4' 'Cflags: -I$${includedir}' > $@

$(UNIT): tests/unit/test_lib.o lib/libz4.a
	$(QLD)$(CC) $(LDFLAGS) -o $@ $< lib/libz4.a $(DEPS_LIBS)

tests/unit/mutate.o: tests/unit/samples.h

$(MUTATE): tests/unit/mutate.o lib/libz4.a
	$(QLD)$(CC) $(LDFLAGS) -o $@ $< lib/libz4.a $(DEPS_LIBS)

# container_tar.c again, told to load a library that does not exist; its
# object comes before the library's, whose container_tar.o is not used.
tests/unit/notar_tar.o: lib/container_tar.c lib/z4.h lib/internal.h
	$(QCC)$(CC) $(ALL_CFLAGS) \
	  -DZ4_LIBARCHIVE='"libz4-no-such-library.so"' -c -o $@ $<

$(NOTAR): tests/unit/test_notar.o tests/unit/notar_tar.o lib/libz4.a
	$(QLD)$(CC) $(LDFLAGS) -o $@ tests/unit/test_notar.o \
	  tests/unit/notar_tar.o lib/libz4.a $(DEPS_LIBS)

check: all $(UNIT) $(MUTATE) $(NOTAR)
	$(UNIT)
	$(NOTAR)
	PATH="$(CURDIR)/bin:$$PATH" bats --tap tests/

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer,
# built in its own tree so the normal build is left alone.
asan:
	rm -rf build-asan && mkdir build-asan
	cp -r Makefile lib cmd tests build-asan/
	$(MAKE) -C build-asan clean
	$(MAKE) -C build-asan CC=clang SAN=1 CFLAGS='-O1 -g' check

lint:
	mandoc -Tlint -W warning man/*.[1357]

# The benchmarks (bench/*.sh) print markdown tables; most need the corpus
# in ../shared/corpus/data (or $Z4_CORPUS) and skip without it.
bench: all bench/gen
	bench/corpus.sh
	bench/redundancy.sh
	bench/delta.sh
	bench/archive.sh
	BIG_MIB=512 bench/throughput.sh

bench/gen: bench/gen.c
	$(QLD)$(CC) -std=c11 $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $< -lm

install: all
	@rm -f libz4.pc && $(MAKE) -s libz4.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 lib/libz4.a $(DESTDIR)$(LIBDIR)
	install -m 755 lib/libz4.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)
	ln -sf libz4.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libz4.so
	install -m 644 lib/z4.h $(DESTDIR)$(INCLUDEDIR)
	install -m 644 libz4.pc $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/z4.3 $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/z4-frame.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 man/z4.7 $(DESTDIR)$(MANDIR)/man7

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libz4.a $(DESTDIR)$(LIBDIR)/libz4.so \
	  $(DESTDIR)$(LIBDIR)/libz4.so.$(SOMAJOR)
	rm -f $(DESTDIR)$(INCLUDEDIR)/z4.h $(DESTDIR)$(PKGCONFIGDIR)/libz4.pc
	rm -f $(TOOLS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	  $(DESTDIR)$(MANDIR)/man3/z4.3 $(DESTDIR)$(MANDIR)/man5/z4-frame.5 \
	  $(DESTDIR)$(MANDIR)/man7/z4.7

clean:
	rm -rf bin build-asan build-fuzz libz4.pc lib/*.o lib/libz4.a lib/libz4.so.* \
	  cmd/*.o tests/unit/*.o $(UNIT) $(MUTATE) $(NOTAR)

.PHONY: libz4.pc all check asan lint bench install uninstall clean
.SECONDARY:

# libFuzzer harnesses (tests/fuzz/), built with clang against the library
# compiled with the same flags in build-fuzz/.  make fuzz runs each for
# FUZZ_SECONDS on its corpus, tests/fuzz/corpus-NAME/ (seeded by
# tests/fuzz/seeds.sh); make fuzz-regress runs every harness once over
# the inputs that once failed, tests/golden/bad/fuzz-*.
FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -g -O1
FUZZ_NAMES = decode extract safetensors roundtrip coders delta
FUZZ_BINS = $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
FUZZ_OBJ = $(LIB_SRC:lib/%.c=build-fuzz/lib/%.o)
# Small samples let inputs of a few KiB reach the paths that sample:
# dedupe's, PACKED's guess of a plane's bits, and the selector's; and
# small glue is tried as floats.
FUZZ_ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) $(WARN) \
	-DZ4_DEDUPE_PIECE=16 -DZ4_PACKED_SAMPLE_FROM=64 \
	-DZ4_SAMPLE_PIECE=64 -DZ4_GLUE_VIEW_MIN=256 $(DEPS_CFLAGS) -Ilib
FUZZ_REGRESS = $(wildcard tests/golden/bad/fuzz-*)

build-fuzz/lib/%.o: lib/%.c lib/z4.h lib/internal.h lib/rangecoder.h lib/hash.h
	@mkdir -p build-fuzz/lib
	$(QCC)$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/unit/samples.h \
    $(FUZZ_OBJ)
	$(QLD)$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(DEPS_LIBS)

fuzz: all $(MUTATE) $(FUZZ_BINS)
	tests/fuzz/seeds.sh
	@st=0; for h in $(FUZZ_NAMES); do \
	  echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=512 -dict=tests/fuzz/z4.dict \
	    -artifact_prefix=build-fuzz/fuzz_$$h- -print_final_stats=1 \
	    tests/fuzz/corpus-$$h >build-fuzz/fuzz_$$h.log 2>&1 || \
	    { st=1; echo "fuzz_$$h failed:"; tail -40 build-fuzz/fuzz_$$h.log; }; \
	  grep -E '^#[0-9]+' build-fuzz/fuzz_$$h.log | tail -1; \
	done; exit $$st

fuzz-regress: $(FUZZ_BINS)
ifneq ($(FUZZ_REGRESS),)
	@for h in $(FUZZ_NAMES); do \
	  echo "fuzz_$$h: $(words $(FUZZ_REGRESS)) inputs"; \
	  build-fuzz/fuzz_$$h $(FUZZ_REGRESS) >build-fuzz/regress_$$h.log 2>&1 || \
	    { cat build-fuzz/regress_$$h.log; exit 1; }; \
	done
endif

.PHONY: fuzz fuzz-regress
