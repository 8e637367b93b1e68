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
DEPS = libzstd libxxhash jansson
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS))
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs $(DEPS)) -lm -pthread
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
CMD_COMMON = cmd/util.o cmd/pipeline.o cmd/info.o
TOOLS = z4split z4plane z4cat z4info z4ai
BINS = $(TOOLS:%=bin/%)
UNIT = tests/unit/test_lib

all: $(BINS) lib/libz4.a lib/libz4.so.$(SOMAJOR)

%.o: %.c lib/z4.h lib/internal.h cmd/util.h
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
	  'Libs: -L$${libdir} -lz4' 'Cflags: -I$${includedir}' > $@

$(UNIT): tests/unit/test_lib.o lib/libz4.a
	$(QLD)$(CC) $(LDFLAGS) -o $@ $< lib/libz4.a $(DEPS_LIBS)

check: all $(UNIT)
	$(UNIT)
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

bench: all
	bench/corpus.sh

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
	rm -rf bin build-asan libz4.pc lib/*.o lib/libz4.a lib/libz4.so.* \
	  cmd/*.o tests/unit/*.o $(UNIT)

.PHONY: libz4.pc all check asan lint bench install uninstall clean
.SECONDARY:
