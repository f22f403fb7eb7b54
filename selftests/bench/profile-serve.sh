#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench-serve-profile`: where the server vCPU's instructions of the
# bench-serve rows go, per function, ktls-serve against nginx.  Boots the
# bench-serve VM once per kernel through run-bench-serve.sh with
# BSERVE_PROFILE=1 (the plugin profiles vCPU 1 only; the guest boots with
# nokaslr and prints its kernel symbols and both servers' memory maps),
# then symbolizes and tabulates with profile-serve.py (user addresses
# through the host's copies of the mapped files).
#
#   bash selftests/bench/profile-serve.sh [SERIES...]   (default 6.12)
#
# Environment: as run-bench-serve.sh, with small defaults: BSERVE_SECS=8,
# BSERVE_REPS=1, BSERVE_ROWS=1k,100k,handshake.
#   PROFILE_TOP       functions per run (default 25)
#   PROFILE_DIFF_TOP  functions per ktls-serve/nginx diff (default 30)
# Output and logs in .cache/bench/serve-profile-<UTC time>/: serve.txt
# (the usual table), profile.txt (stdout), <release>-serve/ (logs, raw
# block profiles in prof/, full tables in profile/).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$BENCH_DIR/../vm/lib.sh"

if [[ $# -gt 0 ]]; then series_list=("$@"); else series_list=(6.12); fi
need_cmd python3 nm readelf

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$KTLS_CACHE/bench/serve-profile-$stamp"
mkdir -p "$out"

set +e
BENCH_OUT="$out" BSERVE_PROFILE=1 BSERVE_SECS="${BSERVE_SECS:-8}" \
	BSERVE_REPS="${BSERVE_REPS:-1}" \
	BSERVE_ROWS="${BSERVE_ROWS:-1k,100k,handshake}" \
	bash "$BENCH_DIR/run-bench-serve.sh" "${series_list[@]}" >"$out/serve.txt"
brc=$?
set -e
[[ $brc -eq 0 ]] || log "profile: the bench-serve VM reported rc=$brc (table: $out/serve.txt)"

status=$brc
for series in "${series_list[@]}"; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$series")
	tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
	sysmap="$tree/boot/System.map-$rel"
	[[ -f "$sysmap" ]] || die "no $sysmap in the kernel package"
	if ! {
		echo "== kernel $rel: server instruction profile (logs and tables:" \
			"${out#"$KTLS_REPO"/}/$rel-serve)"
		awk '/^== kernel/ { p = index($0, rel) > 0 } p' rel="$rel" "$out/serve.txt"
		python3 "$BENCH_DIR/profile-serve.py" --sysmap "$sysmap" \
			--logs "$out/$rel-serve" --bin-dir "$KTLS_REPO/userspace/build/dyn" \
			--bin-dir "$KTLS_REPO/selftests/build" \
			--bin-dir "$BENCH_DIR/build" \
			--top "${PROFILE_TOP:-25}" --diff-top "${PROFILE_DIFF_TOP:-30}"
		rc=$?
		echo
		exit $rc
	} | tee -a "$out/profile.txt"; then
		status=1
	fi
done
echo "profile written to $out/profile.txt"
exit $status
