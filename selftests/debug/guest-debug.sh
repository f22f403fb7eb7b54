#!/bin/sh
# Guest script for the debug kernel (busybox sh, /ktls/guest.sh): the
# usual test run (/ktls/guest-tests.sh), then a kmemleak scan.  Leaks
# found before the tests (boot) are cleared first; any after are a
# failure, reported as one more KTAP result with the report itself.
kl=/sys/kernel/debug/kmemleak
if [ -w "$kl" ]; then
	echo scan >"$kl"
	echo clear >"$kl"
fi
sh /ktls/guest-tests.sh
rc=$?
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
