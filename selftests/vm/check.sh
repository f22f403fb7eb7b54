#!/bin/bash
# `make check`: for each kernel series, build the module against that
# kernel's headers, boot the kernel in QEMU with the test programs, and
# count the KTAP results.
#
#   bash selftests/vm/check.sh [SERIES...]     (default: $KERNELS or "6.1 6.12")
#   make check KERNELS=6.1
#
# Ends with "N skipped" (only if any) and exactly one closing line
# "N passed, N failed".  Each kernel also counts one check of its own,
# vm-SERIES-kernel-log: passed when the kernel log is free of splats and the
# guest finished, failed otherwise.  A module that does not build counts as
# a failed vm-SERIES-build.  Exit status non-zero on any failure.
#
# Environment:
#   KTLS_SRC          module source tree (default: the repo; it needs a
#                     root Kbuild with obj-m += kmod/)
#   KTLS_TEST_BINS    directory of test programs (default: build them with
#                     `make -C selftests`, take selftests/build/)
#   KTLS_HOST_BINS    host programs to ship with libraries (default openssl curl)
#   KTLS_VM_TIMEOUT   whole-VM limit in seconds (default 2400)
#   KTLS_TEST_TIMEOUT per-test limit inside the guest (default 900)
#   KTLS_KBUILD_ARGS  extra kbuild arguments, e.g. "W=1 C=1"
#   KTLS_VERBOSE=1    stream the kernel console too
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cache_lock

if [[ $# -gt 0 ]]; then KERNELS="$*"; else KERNELS="${KERNELS:-6.1 6.12}"; fi
VM_TIMEOUT="${KTLS_VM_TIMEOUT:-2400}"
TEST_TIMEOUT="${KTLS_TEST_TIMEOUT:-900}"
read -r -a HOST_BINS <<<"${KTLS_HOST_BINS-openssl curl}"
read -r -a KBUILD_ARGS <<<"${KTLS_KBUILD_ARGS:-}"
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc

total_pass=0 total_fail=0 total_skip=0
summaries=()

# --- test programs, built once for all kernels --------------------------------
BIN_DIRS=()
if [[ -n "${KTLS_TEST_BINS:-}" ]]; then
	BIN_DIRS+=("$KTLS_TEST_BINS")
elif [[ -f "$KTLS_REPO/selftests/Makefile" ]]; then
	log "building test programs (make -C selftests) [$(elapsed)]"
	mkdir -p "$KTLS_CACHE/logs"
	if make -C "$KTLS_REPO/selftests" >"$KTLS_CACHE/logs/selftests-build.log" 2>&1; then
		[[ -d "$KTLS_REPO/selftests/build" ]] && BIN_DIRS+=("$KTLS_REPO/selftests/build")
	else
		log "FAIL: make -C selftests failed; last lines of $KTLS_CACHE/logs/selftests-build.log:"
		tail -n 40 "$KTLS_CACHE/logs/selftests-build.log" >&2
		total_fail=$((total_fail + 1))
		summaries+=("selftests-build: FAILED (log: $KTLS_CACHE/logs/selftests-build.log)")
	fi
else
	log "warning: no selftests/Makefile: booting without test programs"
fi
# Host-side checks: ktls-serve's HTTP parser, unit test and a bounded
# libFuzzer run under ASan/UBSan (userspace/Makefile `check`).
log "host checks: make -C userspace check [$(elapsed)]"
mkdir -p "$KTLS_CACHE/logs"
if make -C "$KTLS_REPO/userspace" check >"$KTLS_CACHE/logs/userspace-check.log" 2>&1; then
	total_pass=$((total_pass + 1))
	summaries+=("host: http-unit + fuzz-http passed ($(grep -h 'number_of_executed_units' "$KTLS_CACHE/logs/userspace-check.log" | awk '{ print $NF }') inputs)")
else
	tail -n 40 "$KTLS_CACHE/logs/userspace-check.log" >&2
	total_fail=$((total_fail + 1))
	summaries+=("host: make -C userspace check FAILED (log: $KTLS_CACHE/logs/userspace-check.log)")
fi
# Helper programs (demo client/server etc.) some tests may call.
[[ -z "${KTLS_TEST_BINS:-}" && -d "$KTLS_REPO/userspace/build" ]] && BIN_DIRS+=("$KTLS_REPO/userspace/build")

# Count KTAP results of a results log: prints "pass fail skip".
count_ktap() {
	local f=$1 ok skip fail
	ok=$(tr -d '\r' <"$f" | grep -cE '^ok ' || true)
	skip=$(tr -d '\r' <"$f" | grep -ciE '^ok .*#[[:space:]]*skip' || true)
	fail=$(tr -d '\r' <"$f" | grep -cE '^not ok ' || true)
	echo "$((ok - skip)) $fail $skip"
}

run_kernel() {
	local series=$1 rel tree hdr bdir logs kos=() initrd rc t0 vmrc
	local pass=0 fail=0 skip=0 failed_names="" note=""
	t0=$SECONDS
	log "=== kernel $series [$(elapsed)]"
	if ! rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$series"); then
		summaries+=("$series: FAILED to resolve a Debian kernel")
		total_fail=$((total_fail + 1))
		return
	fi
	logs="$KTLS_CACHE/logs/$rel"
	mkdir -p "$logs"
	log "[$series] $rel: fetching kernel image [$(elapsed)]"
	tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel") || die "cannot fetch kernel $rel"
	hdr=$(bash "$KTLS_VM_DIR/kernels.sh" headers "$rel") || die "cannot install headers for $rel"

	log "[$series] building module against $hdr [$(elapsed)]"
	if ! bdir=$(build_module "$rel" "$hdr" "$logs/build.log" "${KBUILD_ARGS[@]}"); then
		summaries+=("vm-$series-build ($rel): module build FAILED (log: $logs/build.log)")
		total_fail=$((total_fail + 1))
		return
	fi
	# Every module the build made goes in (tests may use helper modules).
	while read -r m; do kos+=(--ko "$m"); done < <(find "$bdir" -name '*.ko' | sort)

	log "[$series] building initramfs [$(elapsed)]"
	initrd="$KTLS_CACHE/initramfs/$rel-check.cpio.gz"
	local args=(--release "$rel" --tree "$tree" --out "$initrd" "${kos[@]}")
	local d h
	for d in "${BIN_DIRS[@]}"; do args+=(--bin-dir "$d"); done
	for h in "${HOST_BINS[@]}"; do args+=(--host-bin "$h"); done
	bash "$KTLS_VM_DIR/mkinitramfs.sh" "${args[@]}"

	log "[$series] booting $rel (VM limit ${VM_TIMEOUT}s, per test ${TEST_TIMEOUT}s) [$(elapsed)]"
	: >"$logs/results.log"
	local vmargs=(--kernel "$tree/boot/vmlinuz-$rel" --initrd "$initrd"
		--log "$logs/console.log" --results "$logs/results.log"
		--timeout "$VM_TIMEOUT" --append "ktlsvm.timeout=$TEST_TIMEOUT")
	if [[ "${KTLS_VERBOSE:-0}" == 1 ]]; then vmargs+=(--verbose); fi
	KTLS_BOOT_SPLAT_OK=1 bash "$KTLS_VM_DIR/run-vm.sh" "${vmargs[@]}" &
	local vmpid=$!
	# Show the test output as it arrives, tagged with the kernel; tail
	# ends by itself when the VM runner does.
	tail -n +1 -F --pid="$vmpid" "$logs/results.log" 2>/dev/null | sed -u "s/\r//; s/^/[$series] /" || true
	set +e
	wait "$vmpid"
	vmrc=$?
	set -e

	read -r pass fail skip < <(count_ktap "$logs/results.log")
	failed_names=$(tr -d '\r' <"$logs/results.log" | grep -E '^not ok ' || true)
	if [[ $vmrc -eq 1 ]]; then
		fail=$((fail + 1))
		failed_names+=$'\n'"not ok - vm-$series-kernel-log (see $logs/console.log)"
	else
		pass=$((pass + 1))
	fi
	# A boot that ran nothing proves nothing: a failure, not a pass.
	if [[ $((pass + fail + skip)) -le 1 ]]; then
		note=" (no test results!)"
		fail=$((fail + 1))
		failed_names+=$'\n'"not ok - vm-$series-no-results (see $logs/results.log)"
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	rc="$pass passed, $fail failed, $skip skipped"
	summaries+=("$series ($rel): $rc$note in $((SECONDS - t0))s; logs: $logs/{build,console,results}.log")
	if [[ -n "${failed_names//[$'\n']/}" ]]; then
		while read -r l; do [[ -n "$l" ]] && summaries+=("    $l"); done <<<"$failed_names"
	fi
	log "[$series] done: $rc [$(elapsed)]"
}

# Static checks (W=1, sparse, checkpatch) count as tests too.
if [[ "${KTLS_LINT:-1}" == 1 ]]; then
	log "=== lint: W=1 + sparse on $KERNELS, checkpatch [$(elapsed)]"
	lint_log="$KTLS_CACHE/logs/lint.log"
	mkdir -p "$KTLS_CACHE/logs"
	bash "$KTLS_REPO/selftests/lint.sh" $KERNELS >"$lint_log" 2>"$lint_log.err" || true
	sed 's/^/[lint] /' "$lint_log"
	read -r lpass lfail _ < <(count_ktap "$lint_log")
	if [[ $((lpass + lfail)) -eq 0 ]]; then
		lfail=1
		cat "$lint_log.err" >&2
	fi
	total_pass=$((total_pass + lpass))
	total_fail=$((total_fail + lfail))
	summaries+=("lint: $lpass passed, $lfail failed; logs: $KTLS_CACHE/lint/")
fi

for k in $KERNELS; do run_kernel "$k"; done

echo
echo "==== ktls VM check summary ($(elapsed)) ===="
for s in "${summaries[@]}"; do echo "$s"; done
[[ $total_skip -gt 0 ]] && echo "$total_skip skipped"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
