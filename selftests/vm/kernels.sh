#!/bin/bash
# Resolve, download and unpack the Debian kernels the VM tests boot.
#
#   kernels.sh release SERIES   print the kernel release for a series
#                               (6.1 -> 6.1.0-56-amd64, 6.12 -> newest
#                               6.12.N+deb12-amd64); a full release is
#                               printed unchanged
#   kernels.sh fetch REL        download + unpack the image package into
#                               $KTLS_CACHE/kernels/REL (reused if present);
#                               prints that directory
#   kernels.sh vmlinuz REL      print the path of the unpacked vmlinuz
#   kernels.sh headers REL      print /usr/src/linux-headers-REL, installing
#                               linux-headers-REL if missing
#
# Releases come from apt metadata at run time, never hard-coded, so the rig
# follows Debian's point releases.  KTLS_DEB_DIR may name a directory with
# already downloaded .deb files to use instead of downloading.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Release the linux-image-amd64 metapackage points at (the distro's default).
meta_release() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\(.*-amd64\)$/\1/p' | head -n1
}

# Newest release of a series that has an installable -unsigned image.
newest_unsigned() {
	local series=$1 re pkg
	re="^linux-image-${series//./\\.}\\.[0-9]+(\\+deb[0-9]+)?-amd64-unsigned\$"
	while read -r pkg; do
		if pkg_available "$pkg"; then
			pkg=${pkg#linux-image-}
			echo "${pkg%-unsigned}"
			return 0
		fi
	done < <(apt-cache pkgnames "linux-image-$series." 2>/dev/null | grep -E "$re" | sort -V -r)
	return 1
}

resolve_release() {
	local series=$1 rel
	# Already a full release (has a '-' suffix such as -amd64): keep it.
	if [[ "$series" == *-* ]]; then
		echo "$series"
		return 0
	fi
	[[ "$series" =~ ^[0-9]+\.[0-9]+$ ]] || die "bad kernel series '$series' (want e.g. 6.1 or 6.12)"
	ensure_apt_lists
	rel=$(meta_release || true)
	if [[ "$rel" == "$series".* ]]; then
		echo "$rel"
		return 0
	fi
	if newest_unsigned "$series"; then
		return 0
	fi
	# Lists may be stale or incomplete: refresh once and retry.
	apt_update_once
	rel=$(meta_release || true)
	if [[ "$rel" == "$series".* ]]; then
		echo "$rel"
		return 0
	fi
	newest_unsigned "$series" || die "no Debian kernel image found for series $series (linux-image-amd64 -> '${rel:-?}')"
}

# Image package names to try for a release, preferred first: the signed
# image for the distro default kernel, the -unsigned one for others.
image_pkgs() {
	local rel=$1
	if [[ "$(meta_release || true)" == "$rel" ]]; then
		echo "linux-image-$rel linux-image-$rel-unsigned"
	else
		echo "linux-image-$rel-unsigned linux-image-$rel"
	fi
}

fetch() {
	local rel=$1 dest tmp pkg deb="" dl
	dest="$KTLS_CACHE/kernels/$rel"
	if [[ -f "$dest/.complete" ]]; then
		echo "$dest"
		return 0
	fi
	need_cmd dpkg depmod
	ensure_apt_lists
	dl="$KTLS_CACHE/debs"
	mkdir -p "$dl"
	for pkg in $(image_pkgs "$rel"); do
		# Pre-downloaded copies first (KTLS_DEB_DIR, apt's archive cache).
		deb=$(ls -1 "${KTLS_DEB_DIR:-/nonexistent}/${pkg}_"*_amd64.deb \
			"/var/cache/apt/archives/${pkg}_"*_amd64.deb \
			"$dl/${pkg}_"*_amd64.deb 2>/dev/null | head -n1 || true)
		[[ -n "$deb" ]] && break
		pkg_available "$pkg" || continue
		log "downloading $pkg (~100 MB)"
		# apt-get download writes into the current directory.
		if (cd "$dl" && apt-get download -q "$pkg" >&2); then
			deb=$(ls -1 "$dl/${pkg}_"*_amd64.deb | head -n1)
			break
		fi
	done
	if [[ -z "$deb" ]]; then
		apt_update_once
		pkg="linux-image-$rel-unsigned"
		pkg_available "$pkg" || pkg="linux-image-$rel"
		(cd "$dl" && apt-get download -q "$pkg" >&2) ||
			die "cannot download an image package for $rel"
		deb=$(ls -1 "$dl/${pkg}_"*_amd64.deb | head -n1)
	fi
	log "unpacking $(basename "$deb")"
	# Unpack next to the destination, then rename: an interrupted run never
	# leaves a half tree that looks complete.
	tmp="$dest.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg -x "$deb" "$tmp"
	[[ -f "$tmp/boot/vmlinuz-$rel" ]] || die "$deb has no boot/vmlinuz-$rel"
	local mdir
	mdir=$(modules_dir_of "$tmp" "$rel") || die "$deb has no modules for $rel"
	# Debian generates modules.dep in postinst; the initramfs builder needs
	# it to follow module dependencies.
	depmod -b "${mdir%/lib/modules/"$rel"}" "$rel"
	touch "$tmp/.complete"
	rm -rf "$dest"
	mv "$tmp" "$dest"
	# The unpacked tree is the cache; our own download is not needed again.
	[[ "$deb" == "$dl/"* ]] && rm -f "$deb"
	echo "$dest"
}

headers() {
	local rel=$1 dir="/usr/src/linux-headers-$1"
	if [[ ! -f "$dir/Makefile" ]]; then
		log "installing linux-headers-$rel"
		ensure_apt_lists
		pkg_available "linux-headers-$rel" || apt_update_once
		apt-get install -y -q --no-install-recommends "linux-headers-$rel" >&2 ||
			die "cannot install linux-headers-$rel"
	fi
	[[ -f "$dir/Makefile" ]] || die "$dir missing after installing linux-headers-$rel"
	echo "$dir"
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}

[[ $# -eq 2 ]] || usage
case "$1" in
release) resolve_release "$2" ;;
fetch) fetch "$2" ;;
vmlinuz)
	d=$(fetch "$2")
	echo "$d/boot/vmlinuz-$2"
	;;
headers) headers "$2" ;;
*) usage ;;
esac
