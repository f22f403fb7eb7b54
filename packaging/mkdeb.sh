#!/bin/bash
# `make deb`: build ktls-dkms_<ver>_all.deb (module sources for DKMS, with
# postinst/prerm hooks) and ktls-tools_<ver>_amd64.deb (libktls, header,
# pkg-config file, ktls-serve, ktls-get, ktls-doctor; dynamically linked
# against the system OpenSSL) with dpkg-deb.
#
#   bash packaging/mkdeb.sh [OUTDIR]     (default: .cache/deb)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/.cache/deb}"
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$REPO/dkms.conf")
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
MAINT="${KTLS_DEB_MAINTAINER:-ktls developers <ktls@example.org>}"
[[ -n "$VER" ]] || { echo "no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ktls-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"

# Debian policy: every package has a copyright file and a changelog.
docs() {
	local root=$1 pkg=$2 d
	d="$root/usr/share/doc/$pkg"
	mkdir -p "$d"
	cat >"$d/copyright" <<CR
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ktls

Files: *
Copyright: 2026 the ktls developers
License: GPL-2
 On Debian systems the full text of the GNU General Public License
 version 2 is in /usr/share/common-licenses/GPL-2.

Files: usr/lib/* usr/include/ktls.h usr/share/man/*
Copyright: 2026 the ktls developers
License: MIT
 libktls and its header are under the MIT licence (LICENSES/MIT in the
 source), so programs linking OpenSSL 3 (Apache-2.0) can use them.
CR
	cat >"$d/changelog" <<CL
ktls ($VER) unstable; urgency=medium

  * Release $VER: DKMS module source and userspace tools.

 -- $MAINT  $(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")
CL
	gzip -9n "$d/changelog"
	chmod 644 "$d"/*
}

# --- ktls-dkms ---------------------------------------------------------------
R="$STAGE/ktls-dkms"
SRC="$R/usr/src/ktls-$VER"
mkdir -p "$SRC" "$R/DEBIAN"
(cd "$REPO" && for f in dkms.conf Kbuild kmod/Kbuild kmod/*.c kmod/*.h include/ktls/*.h; do
	[[ "$f" == *.mod.c ]] && continue
	install -D -m 644 "$f" "$SRC/$f"
done)
docs "$R" ktls-dkms
cat >"$R/DEBIAN/control" <<EOF2
Package: ktls-dkms
Version: $VER
Architecture: all
Section: kernel
Priority: optional
Maintainer: $MAINT
Depends: dkms (>= 2.1.0.0)
Recommends: linux-headers-amd64 | linux-headers-generic | linux-headers
Suggests: ktls-tools
Installed-Size: $(du -sk "$R/usr" | cut -f1)
Description: TLS record layer in the kernel (DKMS module source)
 ktls is an out-of-tree Linux kernel module that runs the TLS record
 layer as a TCP ULP, a drop-in replacement for the in-tree kTLS with the
 same UAPI.  This package builds it with DKMS for every installed kernel
 with headers, and rebuilds it when a kernel is installed.
EOF2
cat >"$R/DEBIAN/postinst" <<EOF2
#!/bin/sh
set -e
# Register with DKMS and build for every kernel whose headers are present.
if [ "\$1" = configure ]; then
	dkms status -m ktls -v $VER | grep -q . || dkms add -m ktls -v $VER
	for b in /lib/modules/*/build; do
		[ -f "\$b/Makefile" ] || continue
		k=\$(basename "\$(dirname "\$b")")
		dkms install -m ktls -v $VER -k "\$k" ||
			echo "ktls-dkms: build for \$k failed; see /var/lib/dkms/ktls/$VER/build/make.log" >&2
	done
fi
exit 0
EOF2
cat >"$R/DEBIAN/prerm" <<EOF2
#!/bin/sh
set -e
case "\$1" in
remove|upgrade|deconfigure)
	dkms remove -m ktls -v $VER --all || true
	;;
esac
exit 0
EOF2
chmod 755 "$R/DEBIAN/postinst" "$R/DEBIAN/prerm"
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/ktls-dkms_${VER}_all.deb" >/dev/null

# --- ktls-tools --------------------------------------------------------------
R="$STAGE/ktls-tools"
mkdir -p "$R/DEBIAN"
# `make install` builds dynamically (the VM's static build stays in
# userspace/build): tools and libktls.so use the system OpenSSL.
make -s -C "$REPO" install WITH_MODULE=0 UBUILD=userspace/build/dyn \
	DESTDIR="$R" PREFIX=/usr LIBDIR="/usr/lib/$MULTIARCH" >/dev/null
strip --strip-unneeded "$R"/usr/bin/*
strip --strip-debug "$R/usr/lib/$MULTIARCH/libktls.a"
strip --strip-unneeded "$R/usr/lib/$MULTIARCH"/libktls.so.0.*
# Debian policy 12.1 (lintian: uncompressed-manual-page): man pages are
# installed gzip -9n compressed (-n: no name or time, reproducible).
find "$R/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
docs "$R" ktls-tools
# Library dependencies of the tools, as dpkg-shlibdeps sees them.
mkdir -p "$STAGE/shl/debian"
printf 'Source: ktls\n\nPackage: ktls-tools\nArchitecture: any\n' \
	>"$STAGE/shl/debian/control"
deps=$(cd "$STAGE/shl" && dpkg-shlibdeps -O "$R"/usr/bin/* "$R/usr/lib/$MULTIARCH"/libktls.so.0.* 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[[ -n "$deps" ]] || deps="libc6 (>= 2.34), libssl3 (>= 3.0.0)"
cat >"$R/DEBIAN/control" <<EOF2
Package: ktls-tools
Version: $VER
Architecture: $ARCH
Section: net
Priority: optional
Maintainer: $MAINT
Depends: $deps
Recommends: ktls-dkms
Installed-Size: $(du -sk "$R/usr" | cut -f1)
Description: kernel TLS tools: ktls-serve, ktls-get, ktls-doctor, libktls
 Userspace for the ktls kernel module: ktls-serve (HTTPS file server that
 sends through kernel TLS), ktls-get (client that receives through it),
 ktls-doctor (checks that kernel TLS works on this machine and says how
 to fix it) and libktls (shared and static library, header, pkg-config
 file and man pages:
 OpenSSL handshake, keys handed to the kernel).
EOF2
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/ktls-tools_${VER}_${ARCH}.deb" >/dev/null
# What lintian would say first: a man page that is not compressed.
if dpkg-deb -c "$OUT/ktls-tools_${VER}_${ARCH}.deb" | grep -E '/usr/share/man/.*\.[0-9]$'; then
	echo "mkdeb: uncompressed man page(s) in ktls-tools" >&2
	exit 1
fi
echo "$OUT/ktls-dkms_${VER}_all.deb"
echo "$OUT/ktls-tools_${VER}_${ARCH}.deb"
