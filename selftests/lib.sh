#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Sourced by the test_*.sh scripts in the VM (busybox sh); the Makefile
# installs it beside them in build/, so it reaches /ktls/bin with them.
# Not a test: the guest runs only test_*.

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
