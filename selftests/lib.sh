#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Sourced by the test_*.sh scripts in the VM (busybox sh); the Makefile
# installs it beside them in build/, so it reaches /ktls/bin with them.
# Not a test: the guest runs only test_*.

# KTAP lines; the script counts in n and sets failed.
# shellcheck disable=SC2034 # failed is the sourcing script's
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
diag() { echo "# $*"; }

# Like kt_need_ktls(): ktls loaded with ulp_name=$ULP, nothing else holds it.
need_ktls() {
	if [ -e /sys/module/ktls ] &&
	   [ "$(cat /sys/module/ktls/parameters/ulp_name)" != "$ULP" ]; then
		rmmod ktls || return 1
	fi
	[ -e /sys/module/ktls ] ||
		insmod "${KTLS_KO:-/ktls/ktls.ko}" ulp_name="$ULP" || return 1
	[ "$(cat /sys/module/ktls/parameters/ulp_name)" = "$ULP" ]
}
