#!/bin/sh
# Default guest script (busybox sh, runs inside the VM as /ktls/guest.sh):
# runs every /ktls/bin/test_* program and test_*.sh script in name order,
# passing their KTAP output through unchanged.  A program that dies, times
# out, prints fewer results than its plan, or exits non-zero without
# reporting a failure gets an extra "not ok - NAME ..." line, so the host's
# count can never miss it.
#
# Nothing is loaded here: each test prepares its own module state, using
# $KTLS_KO (our module), $KTLS_INTREE (Debian's tls.ko) from /ktls/env.
#
# KTLS_AFTER_EACH: a command run after each program, with its name.
#
# Per-test timeout: KTLS_TEST_TIMEOUT seconds (default 300), or
# ktlsvm.timeout=N on the kernel command line.  ktlsvm.timescale=N
# (KTLS_TIME_SCALE) stretches the tests' own limits on slow kernels.

timeout_s=${KTLS_TEST_TIMEOUT:-300}
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ktlsvm.timeout=*) timeout_s=${arg#ktlsvm.timeout=} ;;
	ktlsvm.timescale=*) export KTLS_TIME_SCALE=${arg#ktlsvm.timescale=} ;;
	esac
done

echo "# ktls-vm: kernel $(uname -r), tests in ${KTLS_BIN:-/ktls/bin}, timeout ${timeout_s}s, time scale ${KTLS_TIME_SCALE:-1}"
pidns="unshare -p -f"
$pidns true 2>/dev/null || { pidns=""; echo "# ktls-vm: no PID namespaces; leftover processes are not cleaned up"; }
failed=0
found=0
out=/tmp/.ktls-test-out
for t in "${KTLS_BIN:-/ktls/bin}"/test_*; do
	[ -f "$t" ] || continue
	found=$((found + 1))
	name=$(basename "$t")
	case "$name" in
	*.sh) cmd="sh $t" ;;
	*) cmd="$t" ;;
	esac
	echo "# ktls-vm: running $name"
	start=$(date +%s)
	# Keep the output (to check plan vs. results) while streaming it.
	# Each test runs under a fresh PID namespace whose init is a small sh:
	# when that sh exits, the kernel kills whatever the test left behind
	# (a server still holding the pipe would otherwise stall tee forever).
	echo 255 >/tmp/.ktls-test-rc
	# shellcheck disable=SC2086
	KTLS_T=$timeout_s $pidns sh -c 'timeout "$KTLS_T" '"$cmd"' </dev/null 2>&1
		echo $? >/tmp/.ktls-test-rc' | tee "$out"
	rc=$(cat /tmp/.ktls-test-rc)
	dur=$(($(date +%s) - start))
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n1)
	nres=$(grep -cE '^(not )?ok ' "$out")
	nfail=$(grep -cE '^not ok ' "$out")
	echo "# ktls-vm: $name rc=$rc results=$nres plan=${plan:-none} ${dur}s"
	# busybox timeout kills with SIGTERM: rc 143; other signals >128.
	if [ "$rc" -eq 143 ] && [ "$dur" -ge "$timeout_s" ]; then
		echo "not ok - $name timeout after ${timeout_s}s rc=$rc"
		failed=1
	elif [ "$rc" -gt 128 ]; then
		echo "not ok - $name crashed (signal $((rc - 128))) rc=$rc"
		failed=1
	elif [ -z "$plan" ] && [ "$nres" -eq 0 ]; then
		echo "not ok - $name printed no KTAP results rc=$rc"
		failed=1
	elif [ -n "$plan" ] && [ "$nres" -lt "$plan" ]; then
		echo "not ok - $name incomplete: $nres of $plan results rc=$rc"
		failed=1
	elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		echo "not ok - $name exited rc=$rc without reporting a failure"
		failed=1
	elif [ "$nfail" -gt 0 ]; then
		failed=1
	fi
	# A rig's hook after every program (make coverage saves counters).
	[ -z "${KTLS_AFTER_EACH:-}" ] || $KTLS_AFTER_EACH "$name"
done
rm -f "$out" /tmp/.ktls-test-rc
if [ "$found" -eq 0 ]; then
	echo "not ok - no test_* programs in ${KTLS_BIN:-/ktls/bin}"
	failed=1
fi
exit "$failed"
