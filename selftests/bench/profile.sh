#!/bin/bash
# `make bench-profile`: where the guest instructions of a bench row go, per
# kernel function, ktls against the in-tree tls.ko.  Boots the bench VM once
# per kernel through run-bench.sh with BENCH_PROFILE=1 (the plugin keeps a
# counter per translated block and writes one profile per measured window;
# the guest boots with nokaslr and prints its kernel and module text
# symbols from /proc/kallsyms, since Debian's System.map is a stub), then
# symbolizes and tabulates with profile.py.
#
#   bash selftests/bench/profile.sh [SERIES...]   (default 6.12)
#
# Environment: as run-bench.sh, with small defaults: BENCH_MB=8,
# BENCH_SEND_MB=4, BENCH_REPS=1, BENCH_ROWS=send-16k,rx.
#   PROFILE_TOP       functions per run (default 25)
#   PROFILE_DIFF_TOP  functions per ktls/intree diff (default 20)
# Output: for every measured run its top functions (instructions per MiB of
# plaintext, share of the window), then per (row, version, cipher) the
# functions (and modules) whose cost differs most between ktls and intree,
# summed over the repetitions.  Everything is kept in
# .cache/bench/profile-<UTC time>/: bench.txt (the usual table),
# profile.txt (stdout), <release>/ (logs, prof/prof-<seq>.txt raw block
# profiles, profile/ full per-run and diff tables).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$BENCH_DIR/../vm/lib.sh"

if [[ $# -gt 0 ]]; then series_list=("$@"); else series_list=(6.12); fi
need_cmd python3

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$KTLS_CACHE/bench/profile-$stamp"
mkdir -p "$out"

set +e
BENCH_OUT="$out" BENCH_PROFILE=1 BENCH_MB="${BENCH_MB:-8}" \
	BENCH_SEND_MB="${BENCH_SEND_MB:-4}" BENCH_REPS="${BENCH_REPS:-1}" \
	BENCH_ROWS="${BENCH_ROWS:-send-16k,rx}" \
	bash "$BENCH_DIR/run-bench.sh" "${series_list[@]}" >"$out/bench.txt"
brc=$?
set -e
[[ $brc -eq 0 ]] || log "profile: the bench VM reported rc=$brc (table: $out/bench.txt)"

status=$brc
for series in "${series_list[@]}"; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$series")
	tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
	sysmap="$tree/boot/System.map-$rel"
	[[ -f "$sysmap" ]] || die "no $sysmap in the kernel package"
	if ! {
		echo "== kernel $rel: instruction profile (logs and tables:" \
			"${out#"$KTLS_REPO"/}/$rel)"
		awk '/^== kernel/ { p = $3 == rel } /^table written/ { p = 0 } p' \
			rel="$rel" "$out/bench.txt"
		python3 "$BENCH_DIR/profile.py" --sysmap "$sysmap" --logs "$out/$rel" \
			--top "${PROFILE_TOP:-25}" --diff-top "${PROFILE_DIFF_TOP:-20}"
		rc=$?
		echo
		exit $rc
	} | tee -a "$out/profile.txt"; then
		status=1
	fi
done
echo "profile written to $out/profile.txt"
exit $status
