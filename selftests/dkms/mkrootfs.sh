#!/bin/bash
# Build (once, cached) the Debian 12 root filesystem the DKMS proof boots:
# debootstrap bookworm plus dkms, build-essential, the headers of the
# guest kernel and that kernel's own modules, so that DKMS inside the guest
# builds against exactly what a Debian host would have.
#
#   mkrootfs.sh REL      prints the rootfs directory ($KTLS_CACHE/dkms-rootfs)
#
# Needs root, debootstrap and network access to deb.debian.org.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

[[ $# -eq 1 ]] || { echo "usage: $0 REL" >&2; exit 2; }
REL=$1
ROOT="$KTLS_CACHE/dkms-rootfs"
MIRROR="${KTLS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECMIRROR="${KTLS_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"

if [[ -f "$ROOT/.ktls-complete" ]] && grep -qxF "$REL" "$ROOT/.ktls-complete"; then
	echo "$ROOT"
	exit 0
fi
[[ $(id -u) -eq 0 ]] || die "mkrootfs.sh runs debootstrap and chroot: run it as root"
need_cmd debootstrap chroot
tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$REL")
mods=$(modules_dir_of "$tree" "$REL") || die "no modules for $REL in $tree"

tmp="$ROOT.tmp"
# Unmount whatever a previous interrupted run left mounted before deleting.
cleanup_mounts() {
	local m
	for m in dev/pts dev proc sys; do
		mountpoint -q "$tmp/$m" 2>/dev/null && umount -l "$tmp/$m"
	done
	return 0
}
trap cleanup_mounts EXIT
cleanup_mounts
rm -rf "$tmp"
log "debootstrap bookworm into $tmp (a few minutes)"
debootstrap --variant=minbase --include=ca-certificates bookworm "$tmp" \
	"$MIRROR" >"$KTLS_CACHE/logs/dkms-debootstrap.log" 2>&1 ||
	die "debootstrap failed; see $KTLS_CACHE/logs/dkms-debootstrap.log"
cat >"$tmp/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
SRC
mount -t proc proc "$tmp/proc"
mount --bind /dev "$tmp/dev"
mount --bind /dev/pts "$tmp/dev/pts"
mount -t sysfs sysfs "$tmp/sys"
log "installing dkms, build-essential, linux-headers-$REL in the rootfs"
chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c "
	apt-get update -q &&
	apt-get install -y -q --no-install-recommends dkms build-essential \
		linux-headers-$REL kmod openssl libssl3 curl procps &&
	apt-get clean" >"$KTLS_CACHE/logs/dkms-rootfs-apt.log" 2>&1 ||
	die "apt-get in the rootfs failed; see $KTLS_CACHE/logs/dkms-rootfs-apt.log"
cleanup_mounts
# The kernel's own modules, as linux-image-$REL would install them (the
# image package itself is not needed: the VM boots the kernel directly).
mkdir -p "$tmp/lib/modules/$REL"
cp -a "$mods/." "$tmp/lib/modules/$REL/"
chroot "$tmp" depmod "$REL"
echo ktls-dkms >"$tmp/etc/hostname"
echo "$REL" >"$tmp/.ktls-complete"
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
log "rootfs ready: $ROOT ($(du -sh "$ROOT" | cut -f1))"
echo "$ROOT"
