# SPDX-License-Identifier: GPL-2.0
# ktls: top-level build.  Kbuild (not this file) drives the kernel build, so
# `make -C /lib/modules/<ver>/build M=$PWD modules` works as DKMS expects.

KVER ?= $(shell uname -r)
# Fall back to the newest installed Debian headers when the running kernel
# has none (e.g. a container host).
KDIR ?= $(or $(wildcard /lib/modules/$(KVER)/build),\
	$(lastword $(sort $(filter-out %-common,\
	$(wildcard /usr/src/linux-headers-$(KVER)) \
	$(if $(wildcard /usr/src/linux-headers-$(KVER)),,\
	$(wildcard /usr/src/linux-headers-*-amd64))))))

KERNELS ?= 6.1 6.12
export KERNELS

.PHONY: all module userspace selftests deps check run bench bench-profile bench-serve bench-serve-profile clean

all: module userspace selftests

module:
	@test -n "$(KDIR)" || { echo "no kernel headers: run 'make deps' or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userspace:
	$(MAKE) -C userspace

selftests: userspace
	$(MAKE) -C selftests

deps:
	bash selftests/vm/deps.sh

check: deps
	bash selftests/vm/check.sh $(KERNELS)

run: deps
	bash selftests/vm/run-demo.sh

bench: deps
	bash selftests/bench/run-bench.sh $(KERNELS)

# Per-function instruction profile, ktls vs in-tree (README: "Benchmarks").
bench-profile: deps
	bash selftests/bench/profile.sh $(KERNELS)

# ktls-serve against Debian's nginx (README: "ktls-serve against nginx");
# nginx and wrk come from Debian, installed by deps.sh.
bench-serve:
	KTLS_EXTRA_PKGS="nginx wrk" bash selftests/vm/deps.sh
	bash selftests/bench/run-bench-serve.sh $(BENCH_SERVE_KERNELS)

BENCH_SERVE_KERNELS ?= 6.12

# Per-function profile of the server's vCPU, ktls-serve vs nginx.
bench-serve-profile:
	KTLS_EXTRA_PKGS="nginx wrk" bash selftests/vm/deps.sh
	bash selftests/bench/profile-serve.sh $(BENCH_SERVE_KERNELS)

clean:
	-$(if $(KDIR),$(MAKE) -C $(KDIR) M=$(CURDIR) clean)
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean

# --- install, DKMS, Debian packages (README: "Install on a real host") ------
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
# Userspace build directory to install from: a dynamic build, so the tools
# and libktls.so use the system's OpenSSL (its security updates reach
# them); the VM's static build stays in userspace/build.
UBUILD ?= userspace/build/dyn
# systemd's own directories for a distribution prefix, /etc otherwise.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,/etc/systemd/system)
MODULESLOADDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/modules-load.d,/etc/modules-load.d)
# WITH_MODULE=0: tools, library and header only.
WITH_MODULE ?= 1
KTLS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
DKMS_SRC := /usr/src/ktls-$(KTLS_VERSION)
# What DKMS builds from: the module sources only.
DKMS_FILES := dkms.conf Kbuild kmod/Kbuild \
	$(filter-out %.mod.c,$(wildcard kmod/*.c kmod/*.h)) \
	$(wildcard include/ktls/*.h)
KTLS_TOOLS := ktls-serve ktls-get ktls-doctor
# The release the module was built for (its vermagic), not `uname -r`:
# KDIR may point at another kernel's headers.
MOD_KVER = $(shell modinfo -F vermagic kmod/ktls.ko 2>/dev/null | cut -d' ' -f1)
MOD_DEST = $(DESTDIR)/lib/modules/$(MOD_KVER)/updates/ktls.ko
UNINST_KVER = $(or $(MOD_KVER),$(KVER))

.PHONY: userspace-dyn install uninstall dkms-install dkms-remove deb check-dkms

userspace-dyn:
	$(MAKE) -C userspace B=$(patsubst userspace/%,%,$(UBUILD)) LDFLAGS=-pthread

install: $(if $(filter 1,$(WITH_MODULE)),module) userspace-dyn
ifeq ($(WITH_MODULE),1)
	@test -n "$(MOD_KVER)" || { echo "kmod/ktls.ko has no vermagic" >&2; exit 1; }
	install -D -m 644 kmod/ktls.ko $(MOD_DEST)
	$(if $(DESTDIR),,depmod -a $(MOD_KVER))
endif
	install -D -m 644 $(UBUILD)/libktls.a $(DESTDIR)$(LIBDIR)/libktls.a
	install -D -m 755 $(UBUILD)/libktls.so.0.* $(DESTDIR)$(LIBDIR)/
	cd $(DESTDIR)$(LIBDIR) && ln -sf $$(ls libktls.so.0.* | tail -n 1) libktls.so.0 && \
		ln -sf libktls.so.0 libktls.so
	$(if $(DESTDIR),,-ldconfig)
	install -d $(DESTDIR)$(MANDIR)/man3
	install -m 644 userspace/man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -D -m 644 include/ktls.h $(DESTDIR)$(INCLUDEDIR)/ktls.h
	install -D -m 644 include/ktls/tls_uapi.h \
		$(DESTDIR)$(INCLUDEDIR)/ktls/tls_uapi.h
	install -D -m 644 include/ktls/ktls_ext.h \
		$(DESTDIR)$(INCLUDEDIR)/ktls/ktls_ext.h
	mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(KTLS_VERSION)|' \
		packaging/ktls.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/ktls.pc
	for t in $(KTLS_TOOLS); do \
		install -D -m 755 $(UBUILD)/$$t $(DESTDIR)$(BINDIR)/$$t || exit 1; \
	done
	install -D -m 644 packaging/ktls-serve.8 $(DESTDIR)$(MANDIR)/man8/ktls-serve.8
	mkdir -p $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|' packaging/ktls-serve.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/ktls-serve.service
	install -D -m 644 packaging/ktls-modules-load.conf \
		$(DESTDIR)$(MODULESLOADDIR)/ktls.conf

uninstall:
ifeq ($(WITH_MODULE),1)
	rm -f $(DESTDIR)/lib/modules/$(UNINST_KVER)/updates/ktls.ko
	$(if $(DESTDIR),,-depmod -a $(UNINST_KVER))
endif
	rm -f $(DESTDIR)$(LIBDIR)/libktls.so $(DESTDIR)$(LIBDIR)/libktls.so.0*
	for m in userspace/man/*.3; do rm -f $(DESTDIR)$(MANDIR)/man3/$${m##*/}; done
	rm -f $(DESTDIR)$(LIBDIR)/libktls.a $(DESTDIR)$(INCLUDEDIR)/ktls.h \
		$(DESTDIR)$(INCLUDEDIR)/ktls/tls_uapi.h \
		$(DESTDIR)$(INCLUDEDIR)/ktls/ktls_ext.h \
		$(DESTDIR)$(LIBDIR)/pkgconfig/ktls.pc
	-rmdir $(DESTDIR)$(INCLUDEDIR)/ktls 2>/dev/null
	for t in $(KTLS_TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	rm -f $(DESTDIR)$(MANDIR)/man8/ktls-serve.8 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/ktls-serve.service \
		$(DESTDIR)$(MODULESLOADDIR)/ktls.conf

# Register the sources with DKMS, build and install for the running kernel
# and every other kernel whose headers are installed.
dkms-install:
	@command -v dkms >/dev/null || { echo "dkms not found: apt-get install dkms" >&2; exit 1; }
	-dkms remove ktls/$(KTLS_VERSION) --all >/dev/null 2>&1
	rm -rf $(DKMS_SRC)
	for f in $(DKMS_FILES); do install -D -m 644 $$f $(DKMS_SRC)/$$f || exit 1; done
	dkms add ktls/$(KTLS_VERSION)
	@n=0; for b in /lib/modules/*/build; do \
		test -f $$b/Makefile || continue; \
		k=$$(basename $$(dirname $$b)); \
		dkms install ktls/$(KTLS_VERSION) -k $$k || exit 1; n=$$((n + 1)); \
	done; \
	test $$n -gt 0 || echo "no kernel headers found: apt-get install linux-headers-$$(uname -r), then make dkms-install" >&2; \
	test -f /lib/modules/$$(uname -r)/build/Makefile || \
		echo "note: no headers for the running kernel $$(uname -r)" >&2

dkms-remove:
	@command -v dkms >/dev/null || { echo "dkms not found" >&2; exit 1; }
	-dkms remove ktls/$(KTLS_VERSION) --all
	rm -rf $(DKMS_SRC)

# ktls-dkms_<ver>_all.deb and ktls-tools_<ver>_amd64.deb in $(DEB_OUT).
DEB_OUT ?= $(CURDIR)/.cache/deb
deb:
	bash packaging/mkdeb.sh $(DEB_OUT)

# Slow (debootstrap once, then a VM that builds through DKMS): not in check.
check-dkms: deps
	bash selftests/dkms/check-dkms.sh

# --- debug kernel (README: "Debug kernel") ----------------------------------
.PHONY: check-debug check-debug-faults
check-debug: deps
	bash selftests/debug/check-debug.sh

# The fault-injection phase of check-debug alone (KTLS_FUZZ_SECS etc.:
# see selftests/debug/check-debug.sh).
check-debug-faults: deps
	KTLS_DEBUG_PHASES=faults bash selftests/debug/check-debug.sh

# --- coverage (README: "Coverage") -------------------------------------------
# The debug kernel (built if needed), ktls.ko with gcov counters, the whole
# suite and a fuzz run; report in .cache/coverage/.
.PHONY: coverage
coverage:
	KTLS_EXTRA_PKGS="lcov" bash selftests/vm/deps.sh
	bash selftests/coverage/run-coverage.sh

