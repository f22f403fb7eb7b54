#!/bin/bash
# `make check-dkms`: prove the DKMS path on a Debian 12 guest.  A debootstrap
# rootfs with dkms, build-essential and linux-headers-REL (built once by
# mkrootfs.sh, cached) is shared read-only over 9p; the guest puts a tmpfs
# overlay on it, installs the ktls-dkms and ktls-tools packages from
# `make deb` (postinst: dkms add/build/install for REL), then loads the
# module DKMS built, runs ktls-doctor (TLS_TX/TLS_RX for every cipher) and a
# ktls-serve download with curl, and removes the package again.  Fails on
# any kernel splat.  Slow (the module compiles under TCG): not in `make check`.
#
#   bash selftests/dkms/check-dkms.sh [SERIES]     (default 6.12)
#
# Ends with "N passed, N failed"; logs under .cache/logs/dkms/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
DKMS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v debootstrap >/dev/null; then
	[[ $(id -u) -eq 0 ]] || die "debootstrap missing: apt-get install debootstrap"
	apt_update_once
	apt-get install -y -q --no-install-recommends debootstrap >&2 ||
		die "cannot install debootstrap"
fi
need_cmd qemu-system-x86_64 busybox cpio depmod dpkg-deb dpkg-shlibdeps debootstrap

SERIES=${1:-6.12}
TIMEOUT=${KTLS_DKMS_TIMEOUT:-1800}
rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$SERIES")
tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
logs="$KTLS_CACHE/logs/dkms"
mkdir -p "$logs"
log "[dkms] kernel $rel; rootfs [$(elapsed)]"
root=$(bash "$DKMS_DIR/mkrootfs.sh" "$rel")

cache_lock
log "[dkms] make deb [$(elapsed)]"
debs="$KTLS_CACHE/dkms-deb"
rm -rf "$debs"
bash "$KTLS_REPO/packaging/mkdeb.sh" "$debs" >"$logs/deb.log" 2>&1 ||
	die "make deb failed; see $logs/deb.log"
files=()
for d in "$debs"/*.deb; do files+=(--file "$d:/ktls/deb/$(basename "$d")"); done

log "[dkms] initramfs [$(elapsed)]"
initrd="$KTLS_CACHE/initramfs/$rel-dkms.cpio.gz"
KTLS_VM_MODULES="9pnet_virtio 9p overlay" bash "$KTLS_VM_DIR/mkinitramfs.sh" \
	--release "$rel" --tree "$tree" --out "$initrd" \
	--guest "$DKMS_DIR/guest-dkms.sh" "${files[@]}"
# The boot only uses files of its own: let `make check` runs go on.
exec 9>&-

log "[dkms] booting $rel with the rootfs on 9p (limit ${TIMEOUT}s) [$(elapsed)]"
console="$logs/console.log" results="$logs/results.log"
: >"$console"
: >"$results"
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
	-accel "${KTLS_QEMU_ACCEL:-tcg,thread=multi}" -cpu max -m 3072 -smp 2 \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-serial "file:$console" -serial "file:$results" \
	-virtfs "local,path=$root,mount_tag=dkmsroot,security_model=passthrough,readonly=on,id=root9p" \
	-kernel "$tree/boot/vmlinuz-$rel" -initrd "$initrd" \
	-append "console=ttyS0,115200 loglevel=7 panic=-1 printk.devkmsg=on rdinit=/init ktlsvm.out=ttyS1" \
	</dev/null &
qpid=$!
tail -n +1 -F --pid="$qpid" "$results" 2>/dev/null | sed -u 's/\r//; s/^/[dkms] /' || true
wait "$qpid"
qrc=$?
set -e

pass=$(tr -d '\r' <"$results" | grep -cE '^ok ' || true)
fail=$(tr -d '\r' <"$results" | grep -cE '^not ok ' || true)
PATTERNS='Oops|BUG:|WARNING:|KASAN|UBSAN|general protection fault|Kernel panic|'
PATTERNS+='list_(add|del) corruption|Call Trace:|Unable to handle kernel'
if [[ $qrc -ne 0 ]]; then
	log "FAIL: qemu rc=$qrc (timeout is 124)"
	fail=$((fail + 1))
elif tr -d '\r' <"$console" | grep -qE "$PATTERNS"; then
	log "FAIL: kernel splat in $console:"
	tr -d '\r' <"$console" | grep -nE "$PATTERNS" | head -n 20 >&2
	fail=$((fail + 1))
elif ! tr -d '\r' <"$console" | grep -q 'KTLS-VM-DONE rc='; then
	log "FAIL: the guest did not finish"
	fail=$((fail + 1))
else
	pass=$((pass + 1))	# clean kernel log
fi
echo "dkms ($rel): logs $logs/{deb,console,results}.log"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 && $pass -gt 1 ]]
