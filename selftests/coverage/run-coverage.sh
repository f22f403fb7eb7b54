#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make coverage`: line and branch coverage of kmod/ by the test suite.
#
# Boots the debug kernel (selftests/debug/, which has CONFIG_GCOV_KERNEL)
# with a ktls.ko built with KTLS_COVERAGE=1 (gcov counters for the module
# only), runs the whole suite and a longer test_syscall_fuzz run
# (guest-coverage.sh), takes the module's .gcda files out through a third
# serial port and turns them into an lcov tracefile, an HTML page and a
# per-file / per-function / error-label summary:
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
# about an hour under TCG.
#
# Environment: KTLS_TEST_BINS (a directory of test programs instead of the
# whole suite), KTLS_COV_FUZZ_SECS (the extra fuzz run, default 300; 0 =
# none), KTLS_COV_KEEP=1 (keep earlier boots of the same ktls.ko and merge
# their counters with this one's; default: start afresh), KTLS_COV_REPORT=1
# (no VM: only rebuild the report from the boots already in runs/),
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
FUZZ="${KTLS_COV_FUZZ_SECS:-300}"
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
log "building the module with gcov counters against $src [$(elapsed)]"
blog="$OUT/build.log"
bdir=$(KTLS_BUILD_TAG=cov build_module "$rel" "$src" "$blog" KTLS_COVERAGE=1) ||
	die "module build failed (log: $blog)"
ls "$bdir"/kmod/*.gcno >/dev/null 2>&1 || die "no .gcno in $bdir/kmod: KTLS_COVERAGE=1 had no effect"
kohash=$(sha256sum <"$bdir/kmod/ktls.ko" | cut -c1-16)

# lcov_of RUN: .gcda from the last whole dump of RUN/data.txt, next to
# copies of the .gcno they belong to, into RUN/ktls.info (kmod/ only).
lcov_of() {
	local run=$1 obj=$1/obj last
	last=$(tr -d '\r' <"$run/data.txt" | sed -n 's/^KTLS-GCDA-END //p' | tail -n1)
	[[ -n "$last" ]] || { log "no whole counter dump in $run/data.txt"; return 1; }
	log "counters of $(basename "$run"): last dump after '$last'"
	rm -rf "$obj" "$run/gcda"
	mkdir -p "$obj" "$run/gcda"
	tr -d '\r' <"$run/data.txt" |
		awk -v tag="$last" '$0 == "KTLS-GCDA-BEGIN " tag { on = 1; buf = ""; next }
			$0 == "KTLS-GCDA-END " tag { on = 0; out = buf; next }
			on { buf = buf $0 "\n" } END { printf "%s", out }' |
		base64 -d | tar xzf - -C "$run/gcda"
	# The guest names them by the build path: keep only ktls's kmod/.
	find "$run/gcda" -path "*${bdir#/}/kmod/*.gcda" -exec cp {} "$obj/" \;
	ls "$obj"/*.gcda >/dev/null 2>&1 || { log "no kmod .gcda in $run"; return 1; }
	cp "$run"/gcno/*.gcno "$obj/"
	lcov -q --rc lcov_branch_coverage=1 --capture --directory "$obj" \
		--base-directory "$src" -o "$run/all.info" >"$run/lcov.log" 2>&1 ||
		{ tail -n 20 "$run/lcov.log" >&2; return 1; }
	lcov -q --rc lcov_branch_coverage=1 --extract "$run/all.info" "$bdir/kmod/*" \
		-o "$run/ktls.info" >>"$run/lcov.log" 2>&1
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
		--file "$KTLS_VM_DIR/guest-tests.sh:/ktls/guest-tests.sh")
	for d in "${bins[@]}"; do args+=(--bin-dir "$d"); done
	for h in openssl curl; do command -v "$h" >/dev/null && args+=(--host-bin "$h"); done
	bash "$KTLS_VM_DIR/mkinitramfs.sh" "${args[@]}"
	printf '%s\n' "${bins[@]}" >"$run/bins.txt"
	(cd "${bins[0]}" && ls test_* 2>/dev/null) >"$run/programs.txt" || true

	log "booting $rel for coverage (run $(basename "$run"); VM limit ${VM_TIMEOUT}s, fuzz ${FUZZ}s) [$(elapsed)]"
	: >"$run/results.log"
	set +e
	# watchdog_thresh: see check-debug.sh (slow KASAN boot under TCG).
	bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" --initrd "$initrd" \
		--log "$run/console.log" --results "$run/results.log" --data "$run/data.txt" \
		--timeout "$VM_TIMEOUT" --append "ktlsvm.timeout=$TEST_TIMEOUT ktlsvm.timescale=$TIME_SCALE" \
		--append "watchdog_thresh=60 gcov_persist=1 ktlscov.fuzz=$FUZZ" &
	vmpid=$!
	tail -n +1 -F --pid="$vmpid" "$run/results.log" 2>/dev/null | sed -u 's/\r//; s/^/[coverage] /'
	wait "$vmpid"
	vmrc=$?
	set -e
	[[ $vmrc -eq 0 ]] || log "the VM run was not clean (rc=$vmrc; $run/console.log); counters up to its last dump are used"
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
python3 "$HERE/report.py" --info "$OUT/ktls.info" --prefix "$bdir/" \
	--runs $((${#infos[@]} / 2)) >"$OUT/summary.md"
cat "$OUT/summary.md"
log "HTML: $OUT/html/index.html; summary: $OUT/summary.md [$(elapsed)]"
[[ $vmrc -eq 0 ]]
