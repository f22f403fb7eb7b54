#!/bin/sh
# Guest side of check-dkms.sh (busybox sh in the initramfs): the Debian
# rootfs from 9p under a tmpfs overlay, then, chrooted into it, the
# packages from `make deb` installed the way a user would.  KTAP output.
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n $1"
	[ -f "$2" ] && tail -n 30 "$2" | sed 's/^/# /'
}
R=/newroot
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }

echo "KTAP version 1"
echo "# suite: ktls-dkms"
echo "1..7"
modprobe 9pnet_virtio && modprobe 9p && modprobe overlay
mkdir -p /lower /ovl "$R"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro dkmsroot /lower &&
	mount -t tmpfs -o size=1536m tmpfs /ovl &&
	mkdir -p /ovl/upper /ovl/work &&
	mount -t overlay overlay \
		-o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work "$R"
if [ ! -x "$R/usr/sbin/dkms" ]; then
	echo "# cannot mount the Debian rootfs"
	exit 1
fi
# dkms uses process substitution (/dev/fd); devtmpfs has no such links.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount --bind /proc "$R/proc" && mount --bind /sys "$R/sys" &&
	mount --bind /dev "$R/dev" && mount -t tmpfs tmpfs "$R/tmp"
cp /ktls/deb/*.deb "$R/tmp/"
rel=$(uname -r)
L=/tmp/log
# shellcheck disable=SC2016 # dpkg-query format, not shell
echo "# $(in_root dpkg-query -W -f='${Package} ${Version}\n' dkms "linux-headers-$rel")"

# 1: the packages install; ktls-dkms's postinst builds through DKMS.
if in_root sh -c 'dpkg -i /tmp/ktls-dkms_*.deb /tmp/ktls-tools_*.deb' >"$L" 2>&1; then
	ok "dpkg -i ktls-dkms ktls-tools"
else
	not_ok "dpkg -i ktls-dkms ktls-tools" "$L"
fi
sed 's/^/# /' "$L" | tail -n 15

# 2: DKMS built and installed it for the running kernel.
in_root dkms status >"$L" 2>&1
ko=$(in_root modinfo -n ktls 2>/dev/null)
if grep -q "^ktls/.*$rel.*installed" "$L" && [ -n "$ko" ] &&
   in_root test -f "$ko" && case "$ko" in */updates/*) true ;; *) false ;; esac; then
	ok "dkms status: installed for $rel ($ko)"
else
	not_ok "dkms status: installed for $rel (modinfo: '$ko')" "$L"
	cat "$R"/var/lib/dkms/ktls/*/build/make.log 2>/dev/null | tail -n 30 | sed 's/^/# /'
fi

# 3: modprobe (Debian's kmod) loads the module DKMS built.
if in_root modprobe ktls >"$L" 2>&1 && [ -e /sys/module/ktls ] &&
   grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
	ok "modprobe ktls: ULP \"tls\" registered"
else
	not_ok "modprobe ktls" "$L"
fi

# 4: ktls-doctor from the package: TLS_TX/TLS_RX for every cipher and
# version, OpenSSL's own kTLS; all rows pass.
if in_root ktls-doctor >"$L" 2>&1; then
	ok "ktls-doctor: all checks pass"
else
	not_ok "ktls-doctor: all checks pass" "$L"
fi
sed 's/^/# /' "$L"

# 5: ktls-serve from the package serves a file to curl, byte-exact.
mkdir -p "$R/tmp/www"
head -c 1048577 /dev/urandom >"$R/tmp/www/f.bin"
in_root ktls-serve --port 8443 /tmp/www >/tmp/serve.log 2>&1 &
spid=$!
i=0
while ! netstat -ltn 2>/dev/null | grep -q ':8443 ' && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
in_root curl -ksS -o /tmp/got.bin https://127.0.0.1:8443/f.bin >"$L" 2>&1
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
if cmp -s "$R/tmp/www/f.bin" "$R/tmp/got.bin"; then
	ok "ktls-serve -> curl: 1 MiB byte-exact"
else
	cat /tmp/serve.log >>"$L"
	not_ok "ktls-serve -> curl: 1 MiB byte-exact" "$L"
fi

# 6: removing the package unregisters it from DKMS and deletes the module.
in_root rmmod ktls
in_root dpkg -r ktls-dkms >"$L" 2>&1
rc=$?
left=$(in_root modinfo -n ktls 2>/dev/null)
st=$(in_root dkms status 2>&1)
echo "dkms status: $st" >>"$L"
if [ $rc -eq 0 ] && [ -z "$left" ] && ! echo "$st" | grep -q '^ktls/' &&
   ! ls -d "$R"/usr/src/ktls-* >/dev/null 2>&1; then
	ok "dpkg -r ktls-dkms removes the module"
else
	not_ok "dpkg -r ktls-dkms removes the module (rc=$rc, left: '$left')" "$L"
fi

# 7: nothing left loaded.
if [ ! -e /sys/module/ktls ]; then
	ok "ktls unloaded"
else
	not_ok "ktls unloaded"
fi
exit "$failed"
