# bpfckpt: everything is built out of tree into $(BUILD)/.
#   make            build build/bpfckpt (installs missing packages first)
#   make deps       install the Debian packages the build and the tests need
#   make test       unit + end-to-end tests, ends with "N passed, N failed"
#   make demo       snap, kill and restore a counting demo workload
#   make bench      snap/restore throughput against memcpy, tracer overhead
#   make vmlinux    regenerate vmlinux.h from this kernel's BTF
#   make install    PREFIX=/usr/local DESTDIR=: sbin, man page, bash completion
#   make uninstall  removes what install put there
#   make deb        a .deb from debian/ (dpkg-buildpackage), into $(BUILD)/deb/
#   V=1 shows the commands; SANITIZE=1 builds with ASan/UBSan.

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= $(firstword $(shell command -v bpftool 2>/dev/null) /usr/sbin/bpftool)
ARCH     := x86

# Debian packages for the build (first line) and for the tests (second line).
DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config \
            libxxhash-dev libzstd-dev gcc make \
            python3 procps util-linux strace tmux iproute2 \
            redis-server redis-tools \
            dpkg-dev fakeroot man-db bsdextrautils
# and for make bench only: a realistic load for the tracer's overhead
BENCH_PKGS := redis-server redis-tools

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# A fresh machine has none of the BPF toolchain: every build target then
# runs "deps" first, so "make demo" and "make test" are the only set-up.
missing := $(strip $(foreach t,clang llvm-strip pkg-config, \
		$(if $(shell command -v $(t) 2>/dev/null),,$(t))) \
	$(if $(wildcard $(BPFTOOL)),,bpftool) \
	$(if $(wildcard /usr/include/bpf/libbpf.h),,libbpf-dev) \
	$(if $(wildcard /usr/include/libelf.h),,libelf-dev) \
	$(if $(wildcard /usr/include/zlib.h),,zlib1g-dev) \
	$(if $(wildcard /usr/include/xxhash.h),,libxxhash-dev) \
	$(if $(wildcard /usr/include/zstd.h),,libzstd-dev))
DEPS_FIRST := $(if $(missing),deps,)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
            -Wshadow -Wformat=2 -Wno-format-nonliteral -D_GNU_SOURCE \
            -Iinclude -Iarch/$(ARCH) -I$(BUILD) -iquote user -MMD -MP
LDLIBS   := -lbpf -lelf -lz -lxxhash -lzstd
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
              -Iinclude -I. -I$(BUILD)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

USER_SRCS := $(wildcard user/*.c) $(wildcard user/fd/*.c) $(wildcard arch/$(ARCH)/*.c)
USER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(USER_SRCS))
# everything but main(), for the unit tests and the fuzz harness
LIB_OBJS  := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
WL_SRCS   := $(wildcard tests/workloads/*.c)
WL_BINS   := $(patsubst tests/workloads/%.c,$(BUILD)/tests/workloads/%,$(WL_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
# generated, not intermediate: deleting them made the next make rebuild
.SECONDARY: $(BPF_OBJS) $(SKELS)
.PHONY: all deps bench-deps test demo bench vmlinux clean fuzz install uninstall deb
.SUFFIXES:

# the man page and the completion, generated from user/cmdtab.c
DOCS := $(BUILD)/doc/bpfckpt.8 $(BUILD)/doc/bpfckpt.bash

all: $(DEPS_FIRST) $(BUILD)/bpfckpt $(DOCS)

deps:
	@if [ -n "$(missing)" ] || ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
		echo "  DEPS     installing: $(DEB_PKGS)"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS) >/dev/null; \
	fi

# order-only on deps: with -j, nothing compiles before the packages are in
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c vmlinux.h $(wildcard bpf/*.h include/bpfckpt/*.h) | $(BUILD)/bpf $(DEPS_FIRST)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/%.o: %.c | $(SKELS) $(DEPS_FIRST)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bpfckpt: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -iquote user $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -o $@

# test tools that read images (pagecmp): like the unit tests
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -iquote user $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -o $@

# Workloads are plain programs: no sanitizer, so their memory looks like
# any other process's.
$(BUILD)/tests/workloads/%: tests/workloads/%.c $(wildcard tests/workloads/*.h) | $(DEPS_FIRST)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
		$< -o $@ -lpthread -lrt

$(BUILD)/bpf:
	$(Q)mkdir -p $@

# gendoc links the command table alone: no BPF, no libbpf
$(BUILD)/doc/gendoc: doc/gendoc.c user/cmdtab.c user/cmdtab.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -fsanitize=%,$(CFLAGS)) doc/gendoc.c user/cmdtab.c -o $@

$(BUILD)/doc/bpfckpt.8: $(BUILD)/doc/gendoc
	$(call msg,GEN,$@)
	$(Q)$< man > $@

$(BUILD)/doc/bpfckpt.bash: $(BUILD)/doc/gendoc
	$(call msg,GEN,$@)
	$(Q)$< bash > $@

PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
COMPDIR ?= $(PREFIX)/share/bash-completion/completions

# the binary needs nothing from the tree: the BPF objects are in it
install: $(BUILD)/bpfckpt $(DOCS)
	install -D -m 0755 $(BUILD)/bpfckpt $(DESTDIR)$(SBINDIR)/bpfckpt
	install -D -m 0644 $(BUILD)/doc/bpfckpt.8 $(DESTDIR)$(MANDIR)/man8/bpfckpt.8
	install -D -m 0644 $(BUILD)/doc/bpfckpt.bash $(DESTDIR)$(COMPDIR)/bpfckpt

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bpfckpt $(DESTDIR)$(MANDIR)/man8/bpfckpt.8 \
	      $(DESTDIR)$(COMPDIR)/bpfckpt

# dpkg-buildpackage works in a copy of the sources (it wants the .deb
# one level up, and debian/rules builds in build/ of that copy); our
# own make's variables (SANITIZE=1, BUILD=) must not reach that build
deb: deps
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	$(Q)tar -c --exclude='./build*' --exclude=./.git . | tar -x -C $(BUILD)/deb/src
	$(Q)cd $(BUILD)/deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -b -us -uc -rfakeroot >../build.log 2>&1 \
		|| { tail -30 ../build.log; exit 1; }
	$(Q)ls $(BUILD)/deb/*.deb

# make test T=PATTERN runs only the tests whose name matches (see tests/run)
test: deps $(BUILD)/bpfckpt $(DOCS) $(UNIT_BINS) $(WL_BINS) $(TOOL_BINS)
	$(Q)BUILD=$(BUILD) bash tests/run "$(T)"

demo: deps $(BUILD)/bpfckpt $(BUILD)/tests/workloads/demo
	$(Q)BUILD=$(BUILD) bash tests/demo.sh

bench-deps: deps
	@if ! dpkg -s $(BENCH_PKGS) >/dev/null 2>&1; then \
		echo "  DEPS     installing: $(BENCH_PKGS)"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_PKGS) >/dev/null; \
	fi

bench: bench-deps $(BUILD)/bpfckpt $(WL_BINS) $(BENCH_BINS)
	$(Q)BUILD=$(BUILD) bash tests/bench/run
	$(Q)BUILD=$(BUILD) bash tests/bench/lazy.sh
	$(Q)BUILD=$(BUILD) bash tests/bench/compress.sh
	$(Q)BUILD=$(BUILD) bash tests/bench/precopy.sh
	$(Q)BUILD=$(BUILD) bash tests/bench/migrate.sh

$(BUILD)/tests/bench/%: tests/bench/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE $< -o $@

# libFuzzer on the image reader for FUZZ_SECONDS (the codec is built
# with clang here, so that the fuzzer sees its coverage)
FUZZ_SECONDS ?= 60
FUZZ_LIB := user/img.c user/model.c user/chain.c user/util.c user/log.c
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(wildcard user/*.h include/bpfckpt/*.h) | $(SKELS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iinclude -Iarch/$(ARCH) -I$(BUILD) -iquote user $< $(FUZZ_LIB) \
		-lbpf -lxxhash -lzstd -o $@

fuzz: deps $(BUILD)/bpfckpt $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRCS))
	$(Q)mkdir -p $(BUILD)/fuzz-corpus
	$(Q)[ -f $(BUILD)/fuzz-corpus/sleep.img ] || { \
		setsid sleep 60 </dev/null >/dev/null 2>&1 & p=$$!; sleep 0.2; \
		$(BUILD)/bpfckpt snap $$p -o $(BUILD)/fuzz-corpus/sleep.img --kill; }
	$(Q)$(BUILD)/tests/fuzz/fuzz_image -max_total_time=$(FUZZ_SECONDS) \
		-max_len=262144 $(BUILD)/fuzz-corpus

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

clean:
	rm -rf $(BUILD)

-include $(USER_OBJS:.o=.d) $(patsubst %,%.d,$(UNIT_BINS) $(TOOL_BINS))
