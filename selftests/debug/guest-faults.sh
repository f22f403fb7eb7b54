#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Fault phase of make check-debug (busybox sh, in the guest, run by
# guest-debug.sh): failslab and fail_page_alloc fail allocations of the
# test tasks only (task-filter=Y; a task opts in through
# /proc/.../make-it-fail, inherited by the threads and children it
# creates), sleeping allocations included (ignore-gfp-wait=N), each one
# logged (verbose=1: one line, no stack) and counted (times counts down).
#
# What runs, and what it asserts:
#   test_syscall_fuzz  KTLS_SYSFUZZ_SECS=$fuzz_secs, its workers failing:
#                      no hang, no kernel report, gauges back to 0, rmmod
#   test_faultinj      sender and reader failing: every byte send()
#                      reported arrives intact (or the sender is told of
#                      an error), sends without MSG_MORE do not wait,
#                      errnos in the allowed set, gauges back to 0
#   $load (test_tx ...) every case's process failing: its own results are
#                      only shown (exact assertions cannot hold under
#                      random ENOMEM); it must finish, and the kernel log
#                      stay clean
# Each program must have had failures injected.  Then ktls must unload;
# guest-debug.sh's kmemleak scan follows.
#
# Settings (kernel command line, from check-debug.sh): ktlsvm.fuzzsecs=N,
# ktlsvm.faultload="test_tx,test_rx", ktlsvm.faultprob=PERCENT.
bin=${KTLS_BIN:-/ktls/bin}
dbg=/sys/kernel/debug
fuzz_secs=600
load="test_tx"
prob=5
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ktlsvm.fuzzsecs=*) fuzz_secs=${arg#ktlsvm.fuzzsecs=} ;;
	ktlsvm.faultload=*) load=${arg#ktlsvm.faultload=} ;;
	ktlsvm.faultprob=*) prob=${arg#ktlsvm.faultprob=} ;;
	ktlsvm.timescale=*) export KTLS_TIME_SCALE="${arg#ktlsvm.timescale=}" ;;
	esac
done
# A large count to count down from: the difference is what was injected.
times=100000000
failed=0
total=0
out=/tmp/.ktls-fault-out

echo "# ktls-faults: failslab + fail_page_alloc, probability ${prob}%, interval 1, task-filter=Y, ignore-gfp-wait=N; fuzz ${fuzz_secs}s; load: $load"
for f in failslab fail_page_alloc; do
	d=$dbg/$f
	if [ ! -d "$d" ]; then
		echo "not ok - faultinj-setup: no $d (kernel without $f?)"
		exit 1
	fi
	echo Y >"$d/task-filter"
	echo 0 >"$d/probability"
	echo 1 >"$d/interval"
	echo 0 >"$d/space"
	echo 1 >"$d/verbose"
	echo N >"$d/ignore-gfp-wait"
	echo "$times" >"$d/times"
done
# Order-0 pages too (the default spares them); user pages stay spared
# (ignore-gfp-highmem=Y): a failed page fault would OOM-kill, not errno.
echo 0 >$dbg/fail_page_alloc/min-order
echo Y >$dbg/fail_page_alloc/ignore-gfp-highmem
echo N >$dbg/failslab/cache-filter 2>/dev/null

# run NAME MODE TIMEOUT PROGRAM [VAR=VALUE...]: MODE "assert" passes
# KTAP through, MODE "load" shows it as comments and counts only a finish.
run() {
	name=$1 mode=$2 t=$3 prog=$4
	shift 4
	if [ ! -x "$prog" ]; then
		echo "not ok - faultinj-$name: $prog missing"
		failed=1
		return
	fi
	for f in failslab fail_page_alloc; do
		echo "$times" >"$dbg/$f/times"
		echo "$prob" >"$dbg/$f/probability"
	done
	echo "# ktls-vm: running faultinj-$name"
	start=$(date +%s)
	echo 255 >/tmp/.ktls-fault-rc
	if [ "$mode" = load ]; then
		# Each case's process fails allocations (the harness sets
		# make-it-fail after its fork: a failing exec or fork of the
		# runner itself would test nothing).
		# shellcheck disable=SC2016
		KTLS_FAULTINJ_CASES=1 KTLS_T=$t unshare -p -f sh -c \
			'timeout "$KTLS_T" env "$@" </dev/null 2>&1; echo $? >/tmp/.ktls-fault-rc' \
			sh "$@" "$prog" >"$out"
		sed 's/^/# load: /' "$out"
	else
		# shellcheck disable=SC2016
		KTLS_FAULTINJ=1 KTLS_T=$t unshare -p -f sh -c \
			'timeout "$KTLS_T" env "$@" </dev/null 2>&1; echo $? >/tmp/.ktls-fault-rc' \
			sh "$@" "$prog" | tee "$out"
	fi
	rc=$(cat /tmp/.ktls-fault-rc)
	for f in failslab fail_page_alloc; do echo 0 >"$dbg/$f/probability"; done
	slab=$((times - $(cat $dbg/failslab/times)))
	page=$((times - $(cat $dbg/fail_page_alloc/times)))
	total=$((total + slab + page))
	dur=$(($(date +%s) - start))
	nres=$(grep -cE '^(not )?ok ' "$out")
	nfail=$(grep -cE '^not ok ' "$out")
	echo "# ktls-vm: faultinj-$name rc=$rc results=$nres failed=$nfail ${dur}s, injected: $slab slab, $page page allocation failures"
	why=""
	if [ $((slab + page)) -eq 0 ]; then
		why="no failure was injected"
	elif [ "$rc" -eq 143 ] && [ "$dur" -ge "$t" ]; then
		why="timeout after ${t}s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$nres" -eq 0 ]; then
		why="no KTAP results (rc=$rc)"
	elif [ "$mode" = assert ] && [ "$rc" -ne 0 ]; then
		why="rc=$rc"
	fi
	if [ -n "$why" ]; then
		echo "not ok - faultinj-$name: $why"
		failed=1
	else
		echo "ok - faultinj-$name ($((slab + page)) failures injected)"
	fi
}

run syscall_fuzz assert $((fuzz_secs * 2 + 600)) "$bin/test_syscall_fuzz" \
	KTLS_SYSFUZZ_SECS="$fuzz_secs"
run bytes assert 1200 "$bin/test_faultinj" KTLS_FAULTINJ_SECS="${fault_secs:-30}"
for l in $(echo "$load" | tr ',' ' '); do
	# Loaded here, without faults: a case that had to load it itself
	# would mostly test a failing insmod.
	[ -d /sys/module/ktls ] || insmod "${KTLS_KO:-/ktls/ktls.ko}"
	# The tests' own limits unstretched: a case stuck on a failed
	# setup step ends at its harness alarm.
	run "load-$l" load 900 "$bin/$l" KTLS_TIME_SCALE=1
done
rm -f "$out" /tmp/.ktls-fault-rc
# Whatever failed, nothing may pin the module.
for m in ktls tls; do
	[ -d /sys/module/$m ] || continue
	if rmmod $m; then
		echo "ok - faultinj-rmmod-$m"
	else
		echo "not ok - faultinj-rmmod-$m: $(cat /sys/module/$m/refcnt 2>/dev/null) references left"
		failed=1
	fi
done
echo "# ktls-faults: $total allocation failures injected in all"
exit $failed
