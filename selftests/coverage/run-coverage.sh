#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make coverage`: line and branch coverage of kmod/ by the test suite.
#
# Boots the debug kernel (selftests/debug/, which has CONFIG_GCOV_KERNEL)
# with a ktls.ko built with KTLS_COVERAGE=1 (gcov counters for the module
# only) and runs what make check-debug runs, with the same gates (the
# whole suite, the fault phase with its 600 s fuzz run, the kmemleak scan,
# the console scan), optionally a test_syscall_fuzz run without faults
# (guest-coverage.sh): a clean run is also a clean check-debug (verdict
# in runs/N/verdict.txt).  It takes the module's .gcda files out through a
# third serial port and turns them into an lcov tracefile, an HTML page
# and a per-file / per-function / error-label summary:
#
#   .cache/coverage/ktls.info          merged lcov tracefile
#   .cache/coverage/html/index.html    genhtml page (lines, branches)
#   .cache/coverage/summary.md         tables for the README (report.py)
#   .cache/coverage/runs/N/            one VM boot: console, results,
#                                      raw dumps (data.txt), its .gcno,
#                                      .gcda and .info
#
#   bash selftests/coverage/run-coverage.sh
#
# A fresh machine builds the debug kernel first (an hour or more on two
# cores; see README "Debug kernel").  The suite on the KASAN kernel takes
# one to two hours under TCG (README "Coverage").
#
# Environment: KTLS_TEST_BINS (a directory of test programs instead of the
# whole suite), KTLS_COV_FUZZ_SECS (an extra fuzz run without faults,
# default 0 = none), KTLS_COV_FAULTS=0 (no fault phase; its fuzz budget is
# KTLS_FUZZ_SECS, default 600 as in check-debug, its load
# KTLS_FAULT_LOAD), KTLS_COV_KEEP=1
# (keep earlier boots of the same ktls.ko and merge their counters with
# this one's; default: start afresh), KTLS_COV_REPORT=1
# (no build, no VM: the report again from the boots in runs/ of the
# newest boot's ktls.ko),
# KTLS_VM_TIMEOUT (default 9000), KTLS_TEST_TIMEOUT (per program, default
# 1800), KTLS_TIME_SCALE (default 4), KTLS_DEBUG_JOBS.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../vm/lib.sh
source "$HERE/../vm/lib.sh"
DEBUG="$KTLS_REPO/selftests/debug"

VM_TIMEOUT="${KTLS_VM_TIMEOUT:-9000}"
TEST_TIMEOUT="${KTLS_TEST_TIMEOUT:-1800}"
TIME_SCALE="${KTLS_TIME_SCALE:-4}"
FUZZ="${KTLS_COV_FUZZ_SECS:-0}"
# The fault phase (check-debug's): failing allocations reach the error
# labels.  KTLS_COV_FAULTS=0 leaves it out.
FAULTS="${KTLS_COV_FAULTS:-1}"
FAULT_FUZZ="${KTLS_FUZZ_SECS:-600}"
FAULT_LOAD="${KTLS_FAULT_LOAD:-test_tx}"
OUT="$KTLS_CACHE/coverage"
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc gcov lcov genhtml python3 base64 tar

tree=$(bash "$DEBUG/build-kernel.sh")
rel=$(cat "$tree/release")
src="$KTLS_CACHE/debug-kernel/src"
grep -qx 'CONFIG_GCOV_KERNEL=y' "$tree/boot/config-$rel" ||
	die "the debug kernel has no CONFIG_GCOV_KERNEL (selftests/debug/config.fragment)"
mkdir -p "$OUT/runs"
cache_lock

# The module: its own build directory (KTLS_BUILD_TAG), so check-debug's
# objects are not rebuilt.  Its absolute path is the gcov path in the guest.
if [[ "${KTLS_COV_REPORT:-0}" == 1 ]]; then
	# Report only: the boots' own build, whatever the sources are now.
	bdir="$KTLS_CACHE/build/$rel-cov"
	lastrun=$(find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -n | tail -n1)
	[[ -n "$lastrun" ]] || die "no boots in $OUT/runs to report on"
	kohash=$(cat "$OUT/runs/$lastrun/ko.sha")
else
	log "building the module with gcov counters against $src [$(elapsed)]"
	blog="$OUT/build.log"
	bdir=$(KTLS_BUILD_TAG=cov build_module "$rel" "$src" "$blog" KTLS_COVERAGE=1) ||
		die "module build failed (log: $blog)"
	ls "$bdir"/kmod/*.gcno >/dev/null 2>&1 ||
		die "no .gcno in $bdir/kmod: KTLS_COVERAGE=1 had no effect"
	kohash=$(sha256sum <"$bdir/kmod/ktls.ko" | cut -c1-16)
fi

# info_of RUN TAG OUT: the .gcda of dump TAG in RUN/data.txt, next to
# copies of the .gcno they belong to, into the lcov tracefile OUT (kmod/
# only).
info_of() {
	local run=$1 tag=$2 out=$3 tmp
	tmp=$(mktemp -d "$run/.dump.XXXXXX")
	mkdir -p "$tmp/gcda" "$tmp/obj"
	tr -d '\r' <"$run/data.txt" |
		awk -v tag="$tag" '$0 == "KTLS-GCDA-BEGIN " tag { on = 1; buf = ""; next }
			$0 == "KTLS-GCDA-END " tag { on = 0; out = buf; next }
			on { buf = buf $0 "\n" } END { printf "%s", out }' |
		base64 -d | tar xzf - -C "$tmp/gcda"
	# The guest names them by the build path: keep only ktls's kmod/.
	find "$tmp/gcda" -path "*${bdir#/}/kmod/*.gcda" -exec cp {} "$tmp/obj/" \;
	if ! ls "$tmp"/obj/*.gcda >/dev/null 2>&1; then
		log "no kmod .gcda in dump '$tag' of $run"
		rm -rf "$tmp"
		return 1
	fi
	cp "$run"/gcno/*.gcno "$tmp/obj/"
	# Kernel headers are named relative to the kernel tree.
	lcov -q --rc lcov_branch_coverage=1 --capture --directory "$tmp/obj" \
		--base-directory "$src" -o "$tmp/all.info" >>"$run/lcov.log" 2>&1 &&
		lcov -q --rc lcov_branch_coverage=1 --extract "$tmp/all.info" "$bdir/kmod/*" \
			-o "$out" >>"$run/lcov.log" 2>&1 ||
		{ tail -n 20 "$run/lcov.log" >&2; rm -rf "$tmp"; return 1; }
	rm -rf "$tmp"
}

# lcov_of RUN: RUN/ktls.info from the last whole dump (counts only grow),
# and RUN/steps/NN.info after each program, for "first reached by".
lcov_of() {
	local run=$1 tags last i=0 t
	tags=$(tr -d '\r' <"$run/data.txt" | sed -n 's/^KTLS-GCDA-END //p')
	last=$(tail -n1 <<<"$tags")
	[[ -n "$last" ]] || { log "no whole counter dump in $run/data.txt"; return 1; }
	log "counters of run $(basename "$run"): last dump after '$last'"
	: >"$run/lcov.log"
	info_of "$run" "$last" "$run/ktls.info" || return 1
	rm -rf "$run/steps"
	mkdir -p "$run/steps"
	while read -r t; do
		i=$((i + 1))
		info_of "$run" "$t" "$run/steps/$(printf %02d $i).info" &&
			echo "$t" >"$run/steps/$(printf %02d $i).tag"
	done <<<"$tags"
}

vmrc=0
if [[ "${KTLS_COV_REPORT:-0}" != 1 ]]; then
	if [[ "${KTLS_COV_KEEP:-0}" != 1 ]]; then
		rm -rf "$OUT/runs"
		mkdir -p "$OUT/runs"
	fi
	n=$(find "$OUT/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
	run="$OUT/runs/$((n + 1))"
	mkdir -p "$run"
	echo "$kohash" >"$run/ko.sha"
	# The notes files of this very build: a rebuild gets new gcov stamps
	# and could no longer read this boot's counters.
	mkdir -p "$run/gcno"
	cp "$bdir"/kmod/*.gcno "$run/gcno/"

	bins=("$KTLS_REPO/selftests/build")
	if [[ -n "${KTLS_TEST_BINS:-}" ]]; then
		bins=("$KTLS_TEST_BINS")
	else
		log "building test programs [$(elapsed)]"
		make -C "$KTLS_REPO/selftests" >"$run/selftests-build.log" 2>&1 ||
			{ tail -n 30 "$run/selftests-build.log" >&2; die "make -C selftests failed"; }
		[[ -d "$KTLS_REPO/userspace/build" ]] && bins+=("$KTLS_REPO/userspace/build")
	fi
	kos=()
	while read -r m; do kos+=(--ko "$m"); done < <(find "$bdir" -name '*.ko' | sort)
	initrd="$KTLS_CACHE/initramfs/$rel-coverage.cpio.gz"
	args=(--release "$rel" --tree "$tree" --out "$initrd" "${kos[@]}"
		--guest "$HERE/guest-coverage.sh"
		--file "$KTLS_VM_DIR/guest-tests.sh:/ktls/guest-tests.sh"
		--file "$DEBUG/guest-faults.sh:/ktls/guest-faults.sh"
		--file "$DEBUG/guest-kmemleak.sh:/ktls/guest-kmemleak.sh")
	for d in "${bins[@]}"; do args+=(--bin-dir "$d"); done
	for h in openssl curl; do command -v "$h" >/dev/null && args+=(--host-bin "$h"); done
	bash "$KTLS_VM_DIR/mkinitramfs.sh" "${args[@]}"
	printf '%s\n' "${bins[@]}" >"$run/bins.txt"
	(cd "${bins[0]}" && ls test_* 2>/dev/null) >"$run/programs.txt" || true

	log "booting $rel for coverage (run $(basename "$run"); VM limit ${VM_TIMEOUT}s, fuzz ${FUZZ}s) [$(elapsed)]"
	: >"$run/results.log"
	set +e
	# Injected failures make the allocator report (with a stack dump).
	[[ "$FAULTS" == 0 ]] || export KTLS_ALLOC_WARN_OK=1
	# watchdog_thresh: see check-debug.sh (slow KASAN boot under TCG).
	bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" --initrd "$initrd" \
		--log "$run/console.log" --results "$run/results.log" --data "$run/data.txt" \
		--timeout "$VM_TIMEOUT" --append "ktlsvm.timeout=$TEST_TIMEOUT ktlsvm.timescale=$TIME_SCALE" \
		--append "watchdog_thresh=60 gcov_persist=1 ktlscov.fuzz=$FUZZ" \
		--append "ktlscov.faults=$FAULTS ktlsvm.fuzzsecs=$FAULT_FUZZ ktlsvm.faultload=$FAULT_LOAD" &
	vmpid=$!
	tail -n +1 -F --pid="$vmpid" "$run/results.log" 2>/dev/null | sed -u 's/\r//; s/^/[coverage] /'
	wait "$vmpid"
	vmrc=$?
	set -e
	[[ $vmrc -eq 0 ]] || log "the VM run was not clean (rc=$vmrc; $run/console.log); counters up to its last dump are used"
	# The verdict, counted as check-debug counts it.
	debug_verdict "ktls coverage run $(basename "$run") ($rel)" "$run/results.log" \
		"$vmrc" "$run/console.log" | tee "$run/verdict.txt" || true
	lcov_of "$run" || die "no coverage data from this boot"
else
	for r in "$OUT"/runs/*/; do
		[[ "$(cat "$r/ko.sha" 2>/dev/null)" == "$kohash" ]] && lcov_of "${r%/}"
	done
fi

# Merge every boot of this very ktls.ko (other builds count other lines).
infos=()
for r in "$OUT"/runs/*/; do
	[[ -f "$r/ktls.info" && "$(cat "$r/ko.sha" 2>/dev/null)" == "$kohash" ]] || continue
	infos+=(-a "$r/ktls.info")
done
[[ ${#infos[@]} -gt 0 ]] || die "no boot of this ktls.ko in $OUT/runs"
lcov -q --rc lcov_branch_coverage=1 "${infos[@]}" -o "$OUT/ktls.info" >"$OUT/lcov.log" 2>&1 ||
	{ tail -n 20 "$OUT/lcov.log" >&2; die "lcov merge failed"; }
rm -rf "$OUT/html"
genhtml -q --branch-coverage --prefix "$bdir" --title "ktls kmod/ coverage" \
	-o "$OUT/html" "$OUT/ktls.info" >"$OUT/genhtml.log" 2>&1 ||
	{ tail -n 20 "$OUT/genhtml.log" >&2; die "genhtml failed"; }
steps=()
for r in "$OUT"/runs/*/; do
	[[ "$(cat "$r/ko.sha" 2>/dev/null)" == "$kohash" ]] || continue
	for i in "$r"steps/*.info; do
		[[ -f "$i" ]] && steps+=(--step "run $(basename "$r"): $(cat "${i%.info}.tag")=$i")
	done
done
python3 "$HERE/report.py" --info "$OUT/ktls.info" --prefix "$bdir/" \
	--runs $((${#infos[@]} / 2)) "${steps[@]}" >"$OUT/summary.md"
cat "$OUT/summary.md"
log "HTML: $OUT/html/index.html; summary: $OUT/summary.md [$(elapsed)]"
[[ $vmrc -eq 0 ]]
