#!/bin/bash
# Static checks of the module, as KTAP: for each kernel a W=1 + sparse
# (C=2) build with no warning or error in our files, and checkpatch clean.
#   bash selftests/lint.sh [6.1 6.12]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

if [[ $# -gt 0 ]]; then KERNELS="$*"; else KERNELS="${KERNELS:-6.1 6.12}"; fi
out="$KTLS_CACHE/lint"
mkdir -p "$out"

n=0
declare -a lines=()
result() {	# result OK|FAIL NAME [LOGFILE]
	n=$((n + 1))
	if [[ $1 == OK ]]; then
		lines+=("ok $n $2")
	else
		lines+=("not ok $n $2 # see $3")
	fi
}

# W=1 and sparse: any diagnostic that names one of our files fails.
for k in $KERNELS; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$k")
	hdr=$(bash "$KTLS_VM_DIR/kernels.sh" headers "$rel")
	bdir="$out/build-$rel"
	sync_sources "$bdir"
	blog="$out/build-$rel.log"
	rc=0
	make -C "$hdr" M="$bdir" W=1 C=2 -j"$(nproc)" modules >"$blog" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]] || grep -E '(kmod|include)/[^ :]+:[0-9]+(:[0-9]+)?: (warning|error)' "$blog" >&2; then
		result FAIL "lint-$k-w1-sparse" "$blog"
	else
		result OK "lint-$k-w1-sparse"
	fi
done

# checkpatch from the kernel source package.  CONST_STRUCT is ignored: our
# proto/proto_ops tables are built at run time from the socket's own.
cp_dir="$out/checkpatch"
if [[ ! -f "$cp_dir/scripts/checkpatch.pl" ]]; then
	tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || true)
	[[ -n "$tarball" ]] || die "linux-source-6.12 not installed (make deps)"
	mkdir -p "$cp_dir"
	tar -C "$cp_dir" --strip-components=1 -xJf "$tarball" --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
cplog="$out/checkpatch.log"
(cd "$KTLS_REPO" && perl "$cp_dir/scripts/checkpatch.pl" --no-tree --quiet \
	--ignore CONST_STRUCT -f kmod/*.c kmod/*.h) >"$cplog" 2>&1 || true
if grep -qE '^(WARNING|ERROR|CHECK)' "$cplog"; then
	cat "$cplog" >&2
	result FAIL lint-checkpatch "$cplog"
else
	result OK lint-checkpatch
fi

echo "KTAP version 1"
echo "# suite: lint"
echo "1..$n"
printf '%s\n' "${lines[@]}"
