#!/bin/bash
# Build the ktls debug kernel (KASAN, lockdep, kmemleak) from Debian's
# linux-source-6.12 and install its modules into a tree shaped like an
# unpacked Debian image package, so the VM rig can use it:
#   $KTLS_CACHE/debug-kernel/tree/boot/vmlinuz-REL
#   $KTLS_CACHE/debug-kernel/tree/lib/modules/REL/   (with modules.dep)
#   $KTLS_CACHE/debug-kernel/src/                     (the build tree, M= builds)
# Rebuilt only when config.fragment or the source tarball changes (their
# hash is recorded in .stamp).  Prints the tree directory.
#
#   bash selftests/debug/build-kernel.sh
#
# Environment: KTLS_DEBUG_SRC (default /usr/src/linux-source-6.12.tar.xz),
# KTLS_DEBUG_JOBS (default 2; runs under nice -n 19).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../vm/lib.sh
source "$HERE/../vm/lib.sh"

TARBALL="${KTLS_DEBUG_SRC:-/usr/src/linux-source-6.12.tar.xz}"
JOBS="${KTLS_DEBUG_JOBS:-2}"
FRAG="$HERE/config.fragment"
D="$KTLS_CACHE/debug-kernel"
SRC="$D/src"
TREE="$D/tree"
BLOG="$D/build.log"
[[ -f "$TARBALL" ]] || die "$TARBALL missing: apt-get install linux-source-6.12"
need_cmd make gcc flex bison bc xz

want=$( (sha256sum <"$FRAG"; stat -c '%s %Y' "$TARBALL") | sha256sum | cut -d' ' -f1)
if [[ -f "$D/.stamp" && "$(cat "$D/.stamp")" == "$want" && -f "$TREE/.complete" ]]; then
	echo "$TREE"
	exit 0
fi
mkdir -p "$D"
rm -f "$D/.stamp" "$TREE/.complete"

if [[ ! -f "$SRC/Makefile" || "$(cat "$D/.src-stamp" 2>/dev/null)" != "$(stat -c '%s %Y' "$TARBALL")" ]]; then
	log "unpacking $TARBALL"
	rm -rf "$SRC" "$D/linux-source-6.12"
	tar -xJf "$TARBALL" -C "$D"
	mv "$D/linux-source-6.12" "$SRC"
	stat -c '%s %Y' "$TARBALL" >"$D/.src-stamp"
fi

log "configuring (defconfig + $FRAG)"
(
	cd "$SRC"
	make -s defconfig
	scripts/kconfig/merge_config.sh -m .config "$FRAG"
	make -s olddefconfig
) >"$BLOG" 2>&1 || { tail -n 30 "$BLOG" >&2; die "configuration failed"; }
# A fragment option olddefconfig dropped means a missing dependency.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$FRAG" | while read -r l; do
	grep -qx "$l" "$SRC/.config" || echo "$l"
done)
[[ -z "$missing" ]] || log "warning: not set as asked: $(echo $missing)"

log "building (nice -n 19 make -j$JOBS; log: $BLOG)"
start=$SECONDS
if ! (cd "$SRC" && nice -n 19 make -j"$JOBS" bzImage modules) >>"$BLOG" 2>&1; then
	tail -n 40 "$BLOG" >&2
	die "kernel build failed"
fi
rel=$(make -s -C "$SRC" kernelrelease)
log "built in $(((SECONDS - start) / 60)) min; installing $rel into $TREE"
rm -rf "$TREE"
mkdir -p "$TREE/boot"
cp "$SRC/arch/x86/boot/bzImage" "$TREE/boot/vmlinuz-$rel"
cp "$SRC/.config" "$TREE/boot/config-$rel"
make -s -C "$SRC" INSTALL_MOD_PATH="$TREE" DEPMOD=/sbin/depmod modules_install >>"$BLOG" 2>&1
# The source and build links point at the build tree; the rig never needs
# them and they would make copies follow the whole tree.
rm -f "$TREE/lib/modules/$rel/build" "$TREE/lib/modules/$rel/source"
depmod -b "$TREE" "$rel"
echo "$rel" >"$TREE/release"
touch "$TREE/.complete"
echo "$want" >"$D/.stamp"
echo "$TREE"
