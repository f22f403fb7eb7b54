#!/bin/bash
# Boot one kernel with one initramfs under QEMU (TCG: nested KVM hangs on
# this kind of machine), capture the serial console, then scan the kernel
# log for splats.
#
# run-vm.sh --kernel VMLINUZ --initrd INITRD --log FILE [options]
#   --results FILE   second serial port (ttyS1) to FILE; the guest script's
#                    output goes there (ktlsvm.out=ttyS1), kept apart from
#                    kernel messages
#   --data FILE      third serial port (ttyS2) to FILE, raw: a channel for
#                    files the guest sends out (ktlsvm.data=ttyS2)
#   --timeout SEC    hard limit for one boot (default 900)
#   --append ARGS    extra kernel command-line arguments
#   --verbose        stream the console to stdout while it runs
#
# Environment: KTLS_QEMU_ACCEL (default tcg,thread=multi), KTLS_QEMU_CPU
# (max), KTLS_QEMU_MEM (2048), KTLS_QEMU_SMP (2).  Unless
# KTLS_BOOT_SPLAT_OK=1 (splats before the guest script shown, not
# counted), a boot with a splat before the guest script is stopped at once
# and retried up to KTLS_BOOT_RETRIES times (default 2).
#
# Exit: 0 clean log and guest rc 0; 3 clean log but guest rc != 0;
#       1 splat in the kernel log, timeout or no "KTLS-VM-DONE" sentinel.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNEL="" INITRD="" LOG="" RESULTS="" DATA="" TIMEOUT=900 APPEND="" VERBOSE=0
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}
while [[ $# -gt 0 ]]; do
	case "$1" in
	--kernel) KERNEL=$2; shift 2 ;;
	--initrd) INITRD=$2; shift 2 ;;
	--log) LOG=$2; shift 2 ;;
	--results) RESULTS=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--append) APPEND="$APPEND $2"; shift 2 ;;
	--verbose) VERBOSE=1; shift ;;
	-h | --help) usage ;;
	*) die "run-vm: unknown argument '$1' (see --help)" ;;
	esac
done
[[ -n "$KERNEL" && -n "$INITRD" && -n "$LOG" ]] || usage
[[ -f "$KERNEL" ]] || die "kernel image $KERNEL not found"
[[ -f "$INITRD" ]] || die "initramfs $INITRD not found"
need_cmd qemu-system-x86_64 timeout

# loglevel=7 so KERN_WARNING splats reach the console; panic=-1 reboots at
# once on a panic and -no-reboot turns that into a QEMU exit (no waiting for
# the timeout).  printk.devkmsg=on lets guest scripts log to /dev/kmsg.
CMDLINE="console=ttyS0,115200 loglevel=7 panic=-1 printk.devkmsg=on rdinit=/init"
SERIAL2=()
if [[ -n "$RESULTS" ]]; then
	mkdir -p "$(dirname "$RESULTS")"
	: >"$RESULTS"
	SERIAL2=(-serial "file:$RESULTS")
	CMDLINE="$CMDLINE ktlsvm.out=ttyS1"
fi
if [[ -n "$DATA" ]]; then
	# ttyS2 needs a ttyS1 before it: without --results that port is unused.
	[[ -n "$RESULTS" ]] || SERIAL2=(-serial null)
	mkdir -p "$(dirname "$DATA")"
	: >"$DATA"
	SERIAL2+=(-serial "file:$DATA")
	CMDLINE="$CMDLINE ktlsvm.data=ttyS2"
fi
CMDLINE="$CMDLINE$APPEND"
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

QEMU=(qemu-system-x86_64
	-accel "${KTLS_QEMU_ACCEL:-tcg,thread=multi}"
	-cpu "${KTLS_QEMU_CPU:-max}" -m "${KTLS_QEMU_MEM:-2048}" -smp "${KTLS_QEMU_SMP:-2}"
	-nodefaults -no-user-config -display none -monitor none -no-reboot
	-serial "file:$LOG" "${SERIAL2[@]}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE")

start=$SECONDS
tailpid=""
if [[ $VERBOSE -eq 1 ]]; then
	tail -n +1 -F "$LOG" 2>/dev/null &
	tailpid=$!
fi
# Signs of kernel trouble.  Serial output has CRs; strip them for grep.
PATTERNS='Oops|BUG:|WARNING:|KASAN|UBSAN|general protection fault|Kernel panic|'
PATTERNS+='hung_task|blocked for more than|possible circular locking|'
PATTERNS+='possible recursive locking|inconsistent lock state|'
PATTERNS+='suspicious RCU usage|detected stall|kmemleak: .*suspected memory leak|'
PATTERNS+='list_(add|del) corruption|Call Trace:|stack-protector|Unable to handle kernel'
# boot_splat: the splat lines the console shows before the guest script
# started (none yet: empty).  Sets booted=1 once the guest script runs.
booted=0
boot_splat() {
	local upto
	upto=$(tr -d '\r' <"$LOG" | grep -n 'ktls-init: running guest script' | head -n1 | cut -d: -f1)
	[[ -n "$upto" ]] && booted=1
	tr -d '\r' <"$LOG" | head -n "${upto:-1000000}" | grep -E "$PATTERNS" | head -n 5 || true
}
# run_qemu: one boot.  Where boot splats count (the debug kernel), a boot
# that shows one before any ktls code ran is stopped at once (rc 200):
# such a report switches KASAN reports and lockdep off for the rest of a
# run that would take hours for nothing.
run_qemu() {
	local qpid hits
	# No stdin for QEMU: CI has none, and a terminal must not feed the guest.
	timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null &
	qpid=$!
	booted=0
	while [[ "${KTLS_BOOT_SPLAT_OK:-0}" != 1 && $booted -eq 0 ]] &&
		kill -0 "$qpid" 2>/dev/null; do
		sleep 2
		hits=$(boot_splat)
		if [[ -n "$hits" ]]; then
			log "kernel splat during boot, before any test or ktls code ran:"
			printf '%s\n' "$hits" >&2
			kill "$qpid" 2>/dev/null
			wait "$qpid" 2>/dev/null
			return 200
		fi
	done
	wait "$qpid"
}
set +e
attempt=1
attempts=$((${KTLS_BOOT_RETRIES:-2} + 1))
while :; do
	run_qemu
	qrc=$?
	[[ $qrc -eq 200 && $attempt -lt $attempts ]] || break
	attempt=$((attempt + 1))
	log "rebooting (boot $attempt of $attempts; KTLS_BOOT_RETRIES)"
	: >"$LOG"
	[[ -z "$RESULTS" ]] || : >"$RESULTS"
	[[ -z "$DATA" ]] || : >"$DATA"
done
set -e
if [[ -n "$tailpid" ]]; then
	sleep 0.5 # let tail print the last lines
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
fi
dur=$((SECONDS - start))

fail=()
if [[ $qrc -eq 200 ]]; then
	fail+=("kernel splat during boot in each of $attempts boots")
elif [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	fail+=("timeout: VM still running after ${TIMEOUT}s")
elif [[ $qrc -ne 0 ]]; then
	fail+=("qemu exited with rc=$qrc")
fi

# With KTLS_BOOT_SPLAT_OK=1 (make check's production kernels) only what
# happens once the guest script runs counts: before it no ktls code is
# loaded, and QEMU TCG now and then trips the boot itself (a spurious #DB
# in exc_debug_kernel, seen on 6.12 under host load); such boot-time
# splats are shown, not counted.  The debug kernel counts them: a KASAN
# report at boot switches KASAN reports and lockdep off for the run.
start=1
if [[ "${KTLS_BOOT_SPLAT_OK:-0}" == 1 ]]; then
	start=$(tr -d '\r' <"$LOG" | grep -n 'ktls-init: running guest script' | head -n1 | cut -d: -f1)
	start=${start:-1}
fi
# With KTLS_ALLOC_WARN_OK=1 (check-debug's fault phase) the allocator's
# own "vmalloc error" / "page allocation failure" reports, a stack dump
# each, are the expected result of injected failures: their lines (up to
# the trace's </TASK>) are left out of the scan; nothing else is.  So is
# vmalloc's WARN_ON_ONCE in alloc_vmap_area(), which fires when the
# allocation of its own bookkeeping (va_clip() splitting a free area)
# fails: seen once, loading a module from a test task under failslab.
scan_log() {
	if [[ "${KTLS_ALLOC_WARN_OK:-0}" == 1 ]]; then
		tr -d '\r' <"$LOG" | awk '
			/vmalloc error: |page allocation failure: / { skip = 1 }
			/WARNING: CPU: [0-9]+ PID: [0-9]+ at mm\/vmalloc\.c:[0-9]+ alloc_vmap_area\+/ { skip = 1 }
			{ print (skip ? "(allocation-failure report) " : "") $0 }
			skip && /<\/TASK>/ { skip = 0 }'
	else
		tr -d '\r' <"$LOG"
	fi
}
boot_hits=$(tr -d '\r' <"$LOG" | head -n "$((start - 1))" | grep -nE "$PATTERNS" | head -n 10 || true)
if [[ -n "$boot_hits" ]]; then
	log "note: kernel splat during boot, before any test or ktls code ran (not counted):"
	printf '%s\n' "$boot_hits" >&2
fi
hits=$(scan_log | tail -n "+$start" | grep -v '^(allocation-failure report) ' |
	grep -nE "$PATTERNS" | head -n 40 || true)
[[ -z "$hits" ]] || fail+=("kernel log shows problems")

guest_rc=$(tr -d '\r' <"$LOG" | sed -n 's/.*KTLS-VM-DONE rc=\([0-9][0-9]*\).*/\1/p' | tail -n1)
[[ -n "$guest_rc" ]] || fail+=("no 'KTLS-VM-DONE' sentinel: the guest did not finish")

log "VM $(basename "$KERNEL") finished in ${dur}s (qemu rc=$qrc, guest rc=${guest_rc:-none})"
if [[ ${#fail[@]} -gt 0 ]]; then
	for f in "${fail[@]}"; do log "FAIL: $f"; done
	if [[ -n "$hits" ]]; then
		printf '%s\n' "---- offending kernel log lines ($LOG) ----" >&2
		printf '%s\n' "$hits" >&2
	fi
	printf '%s\n' "---- last 60 lines of $LOG ----" >&2
	tr -d '\r' <"$LOG" | tail -n 60 >&2
	printf '%s\n' "---- end of log ----" >&2
	exit 1
fi
[[ "$guest_rc" -eq 0 ]] || exit 3
exit 0
