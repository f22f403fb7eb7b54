#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest script for `make coverage` (busybox sh, /ktls/guest.sh): the test
# suite (/ktls/guest-tests.sh), a longer syscall fuzz run, then the fault
# phase of make check-debug, with the module's gcov counters sent out
# after every program.
#
# Counters: /sys/kernel/debug/gcov/<host build path>/kmod/*.gcda.  With
# gcov_persist=1 (the kernel's default; run-coverage.sh sets it anyway)
# the kernel keeps the counts of an unloaded module and adds them up over
# every load of the same ktls.ko, so tests that rmmod and insmod lose
# nothing, and reading after the last rmmod is fine.
#
# Channel: ttyS2 (ktlsvm.data=ttyS2, run-vm.sh --data FILE).  Each dump is
# a gzip'd tar in base64 between "KTLS-GCDA-BEGIN tag" and
# "KTLS-GCDA-END tag" lines.  Counts only grow, so the host takes the last
# whole dump: a VM that dies half-way still leaves the earlier ones.
#
#   sh guest-coverage.sh            the run
#   sh guest-coverage.sh --dump TAG one dump (guest-tests.sh's hook)
#
# Kernel command line: ktlscov.fuzz=SECONDS (extra test_syscall_fuzz run
# after the suite; 0 = none), ktlscov.suite=0 (skip the suite),
# ktlscov.faults=0 (skip the fault phase: check-debug's guest-faults.sh,
# whose failing allocations are what reach the error labels; its own
# settings are check-debug's ktlsvm.fuzzsecs=, ktlsvm.faultload=, ...).

gcov=/sys/kernel/debug/gcov
data="" fuzz=0 suite=1 faults=1
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ktlsvm.data=*) data=/dev/${arg#ktlsvm.data=} ;;
	ktlscov.fuzz=*) fuzz=${arg#ktlscov.fuzz=} ;;
	ktlscov.suite=*) suite=${arg#ktlscov.suite=} ;;
	ktlscov.faults=*) faults=${arg#ktlscov.faults=} ;;
	esac
done

# dump TAG: copy every .gcda (debugfs files report size 0, so tar would
# store them empty) and send the lot.
dump() {
	stage=/tmp/.gcda
	rm -rf "$stage"
	mkdir -p "$stage"
	(cd "$gcov" && find . -name '*.gcda') | while read -r f; do
		mkdir -p "$stage/${f%/*}"
		cat "$gcov/$f" >"$stage/$f"
	done
	n=$(find "$stage" -name '*.gcda' | wc -l)
	{
		echo "KTLS-GCDA-BEGIN $1"
		tar czf - -C "$stage" . | base64
		echo "KTLS-GCDA-END $1"
	} >"$data"
	rm -rf "$stage"
	echo "# coverage: counters after $1 ($n files) sent"
}

if [ ! -d "$gcov" ]; then
	echo "not ok - coverage: $gcov missing (kernel without CONFIG_GCOV_KERNEL?)"
	exit 1
fi
if [ -z "$data" ] || [ ! -c "$data" ]; then
	echo "not ok - coverage: no data channel (ktlsvm.data=ttyS2)"
	exit 1
fi
if [ "$1" = --dump ]; then
	dump "$2"
	exit 0
fi
# Raw: no CR/LF games on the way out (the host strips CRs anyway).
stty -F "$data" raw -echo 2>/dev/null

sh /ktls/guest-kmemleak.sh clear
rc=0
if [ "$suite" != 0 ]; then
	KTLS_AFTER_EACH="sh /ktls/guest.sh --dump" sh /ktls/guest-tests.sh || rc=1
fi
if [ "$fuzz" -gt 0 ] && [ -x /ktls/bin/test_syscall_fuzz ]; then
	echo "# ktls-vm: running test_syscall_fuzz for coverage (${fuzz}s)"
	# Same KTAP checks as the suite: the program counts as one more run.
	mkdir -p /tmp/.covfuzz
	ln -sf /ktls/bin/test_syscall_fuzz /tmp/.covfuzz/test_syscall_fuzz
	# (the per-program limit, ktlsvm.timeout, must exceed the budget)
	KTLS_SYSFUZZ_SECS=$fuzz KTLS_BIN=/tmp/.covfuzz sh /ktls/guest-tests.sh || rc=1
	dump fuzz
fi
if [ "$faults" != 0 ]; then
	if [ -f /ktls/guest-faults.sh ]; then
		sh /ktls/guest-faults.sh || rc=1
		dump faults
	else
		echo "not ok - coverage: /ktls/guest-faults.sh missing"
		rc=1
	fi
fi
# The same leak check as make check-debug; it unloads ktls and tls.ko
# first, so the last dump is the persistent copy (the counts are the same
# either way).
sh /ktls/guest-kmemleak.sh check || rc=1
dump final
exit "$rc"
