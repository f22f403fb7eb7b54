#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest script for the debug kernel (busybox sh, /ktls/guest.sh): the
# usual test run (/ktls/guest-tests.sh), then the fault phase
# (/ktls/guest-faults.sh), then a kmemleak scan (/ktls/guest-kmemleak.sh).
# ktlsvm.phases=suite, faults or suite,faults (default) on the kernel
# command line picks the phases.  Leaks found before the tests (boot) are
# cleared first; any after are a failure, reported as one more KTAP result
# with the report itself.
sh /ktls/guest-kmemleak.sh clear
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
sh /ktls/guest-kmemleak.sh check || rc=1
exit "$rc"
