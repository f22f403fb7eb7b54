#!/bin/bash
# Install everything the project needs to build and test on Debian 12:
# compiler, OpenSSL, QEMU, busybox for the initramfs, module tools and the
# kernel headers of every kernel the tests boot.
#
#   bash selftests/vm/deps.sh            # kernels: $KERNELS or "6.1 6.12"
#   KERNELS=6.12 bash selftests/vm/deps.sh
#   KTLS_EXTRA_PKGS="lcov gcovr" bash selftests/vm/deps.sh   # and these
#
# Idempotent: when everything is installed it does not touch apt at all.
# apt-get update runs only when the lists are missing, older than a day
# or a package is not found.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNELS="${KERNELS:-6.1 6.12}"

BASE_PKGS=(
	build-essential libssl-dev openssl curl
	qemu-system-x86 busybox-static cpio kmod xz-utils
	sparse bc rsync linux-source-6.12
	flex bison libelf-dev
	clang
)

[[ $(id -u) -eq 0 ]] || die "deps.sh installs packages: run it as root"

# Rigs with needs of their own add them (make coverage: lcov gcovr).
read -r -a EXTRA_PKGS <<<"${KTLS_EXTRA_PKGS:-}"

missing=()
for p in "${BASE_PKGS[@]}" "${EXTRA_PKGS[@]}"; do
	pkg_installed "$p" || missing+=("$p")
done

# Kernel releases come from apt metadata, which needs lists to exist.
ensure_apt_lists
for k in $KERNELS; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$k") || die "cannot resolve kernel $k"
	pkg_installed "linux-headers-$rel" || missing+=("linux-headers-$rel")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	log "deps: all installed (kernels: $KERNELS)"
	exit 0
fi

log "deps: installing ${missing[*]}"
# Refresh old lists first, or when apt does not know a package we need.
refresh=0
apt_lists_fresh || refresh=1
for p in "${missing[@]}"; do
	pkg_available "$p" || refresh=1
done
[[ $refresh -eq 1 ]] && apt_update_once

apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
	die "apt-get install failed for: ${missing[*]}"

for p in "${missing[@]}"; do
	pkg_installed "$p" || die "package $p still not installed"
done
log "deps: done"
