#!/bin/bash
# SPDX-License-Identifier: MIT
# `make -C userspace install-check` (host, no kernel module needed): `make
# install` into a scratch root puts libktls.so.0, the static archive, the
# header, pkg-config and man pages in place; `pkg-config --libs ktls` links
# a C and a C++ program against the .so (not the archive); the .so exports
# ktls_* only; the tools use the system's OpenSSL; man 3 ktls_handshake.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d /tmp/ktls-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

echo "KTAP version 1"
echo "# suite: libktls-install"
echo "1..11"
make -s -C "$REPO" install WITH_MODULE=0 DESTDIR="$D/root" PREFIX=/usr \
	LIBDIR=/usr/lib >"$D/install.log" 2>&1 || { cat "$D/install.log"; exit 1; }
L=$D/root/usr/lib
check installed_files test -f "$L/libktls.a" -a -L "$L/libktls.so" -a \
	-L "$L/libktls.so.0" -a -f "$D/root/usr/include/ktls.h" -a \
	-f "$L/pkgconfig/ktls.pc"
check soname sh -c "readelf -d '$L/libktls.so.0' | grep -q 'SONAME.*\\[libktls.so.0\\]'"
# Only ktls_* (and the version node) leave the library.
others=$(nm -D --defined-only "$L/libktls.so.0" | awk '{print $3}' |
	grep -v '^ktls_' | grep -v '^KTLS_0$')
check exports_ktls_only test -z "$others"
[ -z "$others" ] || echo "# also exported: $others"

export PKG_CONFIG_PATH=$L/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D/root
flags=$(pkg-config --cflags --libs ktls)
echo "# pkg-config --cflags --libs ktls: $flags"
cat >"$D/use.c" <<'C'
#include <ktls.h>
int main(void)
{
	char err[KTLS_ERR_LEN];
	SSL_CTX *ctx = ktls_ctx_new(1, NULL, NULL, err, sizeof(err));
	struct ktls_session *s = ktls_session_new();
	int bad = !ctx || !s || KTLS_VERSION_MAJOR != 0 ||
		  ktls_session_fd(s) != -1 || ktls_errmsg(s)[0];

	puts(ktls_error_name(KTLS_E_NO_ULP));
	ktls_session_free(s);
	return bad;
}
C
cp "$D/use.c" "$D/use.cc"
# shellcheck disable=SC2086
check c_links_shared sh -c "cc -std=c11 -Wall -Wextra -Werror -o '$D/use' '$D/use.c' $flags &&
	readelf -d '$D/use' | grep -q 'NEEDED.*libktls.so.0' &&
	LD_LIBRARY_PATH='$L' '$D/use' >/dev/null"
# shellcheck disable=SC2086
check cxx_links_shared sh -c "c++ -Wall -Wextra -Werror -o '$D/usexx' '$D/use.cc' $flags &&
	readelf -d '$D/usexx' | grep -q 'NEEDED.*libktls.so.0' &&
	LD_LIBRARY_PATH='$L' '$D/usexx' >/dev/null"
# shellcheck disable=SC2086
check static_links sh -c "cc -static -o '$D/uses' '$D/use.c' \$(pkg-config --cflags --static --libs ktls | sed 's/-lktls/-l:libktls.a/') -ldl 2>/dev/null &&
	'$D/uses' >/dev/null"
# The session is opaque: code that needs its size does not compile.
printf '#include <ktls.h>\nint main(void) { struct ktls_session s; (void)s; return 0; }\n' >"$D/opaque.c"
# shellcheck disable=SC2086
check session_is_opaque sh -c "! cc -c -o '$D/opaque.o' '$D/opaque.c' $flags 2>'$D/opaque.err' &&
	grep -q 'storage size' '$D/opaque.err'"
# The installed file is libktls.so.MAJOR.MINOR of the installed header.
maj=$(sed -n 's/^#define KTLS_VERSION_MAJOR[[:space:]]*//p' "$D/root/usr/include/ktls.h")
min=$(sed -n 's/^#define KTLS_VERSION_MINOR[[:space:]]*//p' "$D/root/usr/include/ktls.h")
check so_version_is_header_version sh -c "test -f '$L/libktls.so.$maj.$min' &&
	test \"\$(readlink '$L/libktls.so.0')\" = libktls.so.$maj.$min &&
	test \$(ls '$L' | grep -c '^libktls.so.0.') = 1"
check tools_use_system_openssl sh -c "ldd '$D/root/usr/bin/ktls-get' | grep -q 'libssl.so.3 => /'"
check man_ktls_handshake sh -c "MANPATH='$D/root/usr/share/man' man 3 ktls_handshake 2>/dev/null | grep -q KTLS_STEP_WANT_READ"
check man_ktls_session_new sh -c "MANPATH='$D/root/usr/share/man' man 3 ktls_session_crypto_info 2>/dev/null | grep -q ENOENT"
exit $failed
