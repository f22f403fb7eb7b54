#!/bin/sh
# Guest script for the debug kernel (busybox sh, /ktls/guest.sh): the
# usual test run (/ktls/guest-tests.sh), then the fault phase
# (/ktls/guest-faults.sh), then a kmemleak scan.  ktlsvm.phases=suite,
# faults or suite,faults (default) on the kernel command line picks the
# phases.  Leaks found before the tests (boot) are cleared first; any
# after are a failure, reported as one more KTAP result with the report
# itself.
kl=/sys/kernel/debug/kmemleak
if [ -w "$kl" ]; then
	echo scan >"$kl"
	echo clear >"$kl"
fi
phases=suite,faults
for arg in $(cat /proc/cmdline); do
	case "$arg" in ktlsvm.phases=*) phases=${arg#ktlsvm.phases=} ;; esac
done
rc=0
case ",$phases," in
*,suite,*) sh /ktls/guest-tests.sh || rc=1 ;;
esac
case ",$phases," in
*,faults,*) sh /ktls/guest-faults.sh || rc=1 ;;
esac
if [ ! -w "$kl" ]; then
	echo "not ok - debug-kmemleak: $kl missing (kernel without kmemleak?)"
	exit 1
fi
# Whatever the tests left loaded may still own memory: unload it first.
for m in ktls tls; do
	[ -d /sys/module/$m ] && rmmod $m 2>/dev/null
done
# kmemleak ignores objects younger than 5 s; two scans settle it.
sleep 6
echo scan >"$kl"
sleep 1
echo scan >"$kl"
report=$(cat "$kl")
if [ -n "$report" ]; then
	echo "$report" | sed 's/^/# kmemleak: /'
	echo "not ok - debug-kmemleak: $(echo "$report" | grep -c '^unreferenced object') suspected leaks"
	exit 1
fi
echo "ok - debug-kmemleak"
exit "$rc"
