#!/bin/bash
# `make run`: boot one kernel with the module and a guest script, streaming
# the console to the terminal.  Fails if the guest script fails (its exit
# status comes back through the "KTLS-VM-DONE rc=N" sentinel) or the kernel
# log shows a splat.
#
#   bash selftests/vm/run-demo.sh [GUEST_SCRIPT]   (default demo-guest.sh)
#   KERNEL=6.1 bash selftests/vm/run-demo.sh
#
# Environment: KERNEL (series or full release, default 6.12),
# KTLS_HOST_BINS (host programs to ship, default "openssl" plus curl if
# installed), KTLS_VM_TIMEOUT (default 900), KTLS_KBUILD_ARGS.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cache_lock

GUEST="${1:-$KTLS_VM_DIR/demo-guest.sh}"
[[ -f "$GUEST" ]] || die "guest script $GUEST not found"
GUEST=$(readlink -f "$GUEST")
SERIES="${KERNEL:-6.12}"
default_bins=openssl
command -v curl >/dev/null && default_bins+=" curl"
read -r -a HOST_BINS <<<"${KTLS_HOST_BINS-$default_bins}"
read -r -a KBUILD_ARGS <<<"${KTLS_KBUILD_ARGS:-}"
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc

rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$SERIES")
logs="$KTLS_CACHE/logs/$rel"
log "demo on $rel [$(elapsed)]"
tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
hdr=$(bash "$KTLS_VM_DIR/kernels.sh" headers "$rel")
log "building module [$(elapsed)]"
bdir=$(build_module "$rel" "$hdr" "$logs/build.log" "${KBUILD_ARGS[@]}") || die "module build failed"

# Userspace programs the demo may run (ktls-demo etc.).
args=(--release "$rel" --tree "$tree" --out "$KTLS_CACHE/initramfs/$rel-demo.cpio.gz" --guest "$GUEST")
for sub in userspace selftests; do
	if [[ -f "$KTLS_REPO/$sub/Makefile" ]]; then
		log "building $sub [$(elapsed)]"
		make -C "$KTLS_REPO/$sub" >"$logs/$sub-build.log" 2>&1 || {
			tail -n 40 "$logs/$sub-build.log" >&2
			die "make -C $sub failed (log: $logs/$sub-build.log)"
		}
	fi
	if [[ -d "$KTLS_REPO/$sub/build" ]]; then args+=(--bin-dir "$KTLS_REPO/$sub/build"); fi
done
while read -r m; do args+=(--ko "$m"); done < <(find "$bdir" -name '*.ko' | sort)
for h in "${HOST_BINS[@]}"; do args+=(--host-bin "$h"); done
log "building initramfs [$(elapsed)]"
bash "$KTLS_VM_DIR/mkinitramfs.sh" "${args[@]}"

log "booting $rel with $(basename "$GUEST") [$(elapsed)]"
set +e
bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" \
	--initrd "$KTLS_CACHE/initramfs/$rel-demo.cpio.gz" --log "$logs/demo-console.log" \
	--timeout "${KTLS_VM_TIMEOUT:-900}" --verbose
rc=$?
set -e
case $rc in
0) log "demo OK [$(elapsed)]" ;;
3) die "guest script $(basename "$GUEST") failed (see $logs/demo-console.log)" ;;
*) die "VM run failed (see $logs/demo-console.log)" ;;
esac
