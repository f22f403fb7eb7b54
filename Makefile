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

.PHONY: all module userspace selftests deps check run bench clean

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

clean:
	-$(if $(KDIR),$(MAKE) -C $(KDIR) M=$(CURDIR) clean)
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
