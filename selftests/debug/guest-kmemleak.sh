#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kmemleak for the debug-kernel guest scripts (busybox sh):
#   sh guest-kmemleak.sh clear   forget what boot left (before the tests)
#   sh guest-kmemleak.sh check   unload ktls and tls.ko, scan, and print
#                                one KTAP result (with the report itself)
kl=/sys/kernel/debug/kmemleak
case "$1" in
clear)
	if [ -w "$kl" ]; then
		echo scan >"$kl"
		echo clear >"$kl"
	fi
	exit 0
	;;
check) ;;
*)
	echo "usage: guest-kmemleak.sh clear|check" >&2
	exit 2
	;;
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
