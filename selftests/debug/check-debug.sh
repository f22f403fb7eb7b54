#!/bin/bash
# `make check-debug`: the whole selftest suite on our debug kernel (KASAN,
# lockdep, kmemleak, DEBUG_ATOMIC_SLEEP, PANIC_ON_OOPS; see
# config.fragment), then a kmemleak scan.  Builds the kernel first if the
# fragment changed (build-kernel.sh; cached in .cache/debug-kernel/).
#
#   bash selftests/debug/check-debug.sh
#
# Ends with "N passed, N failed" like make check; any kernel report
# (KASAN, lockdep, WARNING, kmemleak) fails the run.  The summary is also
# written to .cache/logs/debug/summary.txt.
#
# Environment: KTLS_VM_TIMEOUT (default 9000: KASAN and lockdep slow the
# guest down a lot), KTLS_TEST_TIMEOUT (per test, default 1800),
# KTLS_TIME_SCALE (stretches the tests' own limits, default 4),
# KTLS_DEBUG_JOBS (kernel build jobs, default 2), KTLS_TEST_BINS (a
# directory of test programs to run instead of the whole suite).
#
# Fault phase (guest-faults.sh, after the suite): the syscall fuzzer, a
# byte-accounting test and load tests with allocations of the test tasks
# failing.  KTLS_DEBUG_PHASES (suite,faults; "faults" alone is make
# check-debug-faults), KTLS_FUZZ_SECS (fuzzer budget there, default 600:
# 3/4 ktls, 1/4 in-tree), KTLS_FAULT_LOAD (comma-separated test programs
# run as load, default test_tx; test_tx,test_rx adds about 10 minutes),
# KTLS_FAULT_PROB (percent of the test tasks' allocations that fail,
# default 5).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../vm/lib.sh
source "$HERE/../vm/lib.sh"

VM_TIMEOUT="${KTLS_VM_TIMEOUT:-9000}"
TEST_TIMEOUT="${KTLS_TEST_TIMEOUT:-1800}"
TIME_SCALE="${KTLS_TIME_SCALE:-4}"
# Emulated and KASAN-instrumented, the boot-time W+X page table walk alone
# outlasts the default 20 s soft-lockup limit: allow the maximum (120 s).
SLOW_BOOT="watchdog_thresh=60"
PHASES="${KTLS_DEBUG_PHASES:-suite,faults}"
FAULTS="ktlsvm.phases=$PHASES ktlsvm.fuzzsecs=${KTLS_FUZZ_SECS:-600}"
FAULTS+=" ktlsvm.faultload=${KTLS_FAULT_LOAD:-test_tx} ktlsvm.faultprob=${KTLS_FAULT_PROB:-5}"
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc

tree=$(bash "$HERE/build-kernel.sh")
rel=$(cat "$tree/release")
src="$KTLS_CACHE/debug-kernel/src"
logs="$KTLS_CACHE/logs/debug"
mkdir -p "$logs"

cache_lock
log "debug kernel $rel [$(elapsed)]"
bins=("$KTLS_REPO/selftests/build")
if [[ -n "${KTLS_TEST_BINS:-}" ]]; then
	bins=("$KTLS_TEST_BINS")
else
	log "building test programs [$(elapsed)]"
	make -C "$KTLS_REPO/selftests" >"$logs/selftests-build.log" 2>&1 ||
		{ tail -n 30 "$logs/selftests-build.log" >&2; die "make -C selftests failed"; }
	[[ -d "$KTLS_REPO/userspace/build" ]] && bins+=("$KTLS_REPO/userspace/build")
fi
log "building the module against $src [$(elapsed)]"
bdir=$(build_module "$rel" "$src" "$logs/build.log") || die "module build failed (log: $logs/build.log)"

kos=()
while read -r m; do kos+=(--ko "$m"); done < <(find "$bdir" -name '*.ko' | sort)
initrd="$KTLS_CACHE/initramfs/$rel-debug.cpio.gz"
args=(--release "$rel" --tree "$tree" --out "$initrd" "${kos[@]}"
	--guest "$HERE/guest-debug.sh"
	--file "$KTLS_VM_DIR/guest-tests.sh:/ktls/guest-tests.sh"
	--file "$HERE/guest-faults.sh:/ktls/guest-faults.sh"
	--file "$HERE/guest-kmemleak.sh:/ktls/guest-kmemleak.sh")
for d in "${bins[@]}"; do args+=(--bin-dir "$d"); done
for h in openssl curl; do command -v "$h" >/dev/null && args+=(--host-bin "$h"); done
bash "$KTLS_VM_DIR/mkinitramfs.sh" "${args[@]}"

log "booting $rel (VM limit ${VM_TIMEOUT}s, per test ${TEST_TIMEOUT}s, time scale $TIME_SCALE, phases $PHASES) [$(elapsed)]"
set +e
# Injected failures make the allocator report (with a stack dump).
[[ ",$PHASES," == *,faults,* ]] && export KTLS_ALLOC_WARN_OK=1
# Empty before tail starts: it would first replay the last run's results.
: >"$logs/results.log"
bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" --initrd "$initrd" \
	--log "$logs/console.log" --results "$logs/results.log" \
	--timeout "$VM_TIMEOUT" --append "ktlsvm.timeout=$TEST_TIMEOUT ktlsvm.timescale=$TIME_SCALE $SLOW_BOOT $FAULTS" &
vmpid=$!
tail -n +1 -F --pid="$vmpid" "$logs/results.log" 2>/dev/null | sed -u 's/\r//; s/^/[debug] /'
wait "$vmpid"
vmrc=$?
debug_verdict "ktls check-debug ($rel)" "$logs/results.log" "$vmrc" "$logs/console.log" |
	tee "$logs/summary.txt"
verdict=${PIPESTATUS[0]}
set -e
exit "$verdict"
