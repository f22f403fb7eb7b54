#!/bin/bash
# Build a gzip'd newc initramfs that boots a Debian kernel straight into a
# guest script: busybox userland, the kernel's crypto/TLS modules (plus
# dependencies, decompressed, with a fresh depmod), our module(s), static
# test binaries and optionally some host programs with their libraries.
#
# mkinitramfs.sh --release REL --out FILE [options]
#   --tree DIR        unpacked kernel package (default: kernels.sh fetch REL)
#   --guest FILE      guest script, run by /init as /ktls/guest.sh
#                     (default: selftests/vm/guest-tests.sh)
#   --ko FILE         module to ship as /ktls/NAME.ko and
#                     /lib/modules/REL/extra/NAME.ko (repeatable)
#   --bin FILE        static program for /ktls/bin/ (repeatable)
#   --bin-dir DIR     every executable file in DIR goes to /ktls/bin/
#   --host-bin NAME   host program (PATH lookup) copied with its shared
#                     libraries; openssl also gets its config (repeatable)
#   --module NAME     extra kernel module by name, with dependencies
#                     (repeatable; default extras: $KTLS_VM_MODULES or
#                     "veth sch_netem tcp_diag inet_diag")
#   --file SRC:DEST   any extra file at DEST in the image (repeatable)
#
# The image's /init mounts the usual filesystems, brings up lo (127.0.0.1
# and ::1), runs /ktls/guest.sh, logs "KTLS-VM-DONE rc=N" to the kernel log
# and powers off.  Kernel command-line knob: ktlsvm.out=ttyS1 sends the guest
# script's output to that device instead of the console.  Nothing loads
# modules except the guest and the kernel's own request_module() calls.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REL="" OUT="" TREE="" GUEST="$KTLS_VM_DIR/guest-tests.sh"
KOS=() BINS=() BINDIRS=() HOSTBINS=() FILES=()
read -r -a MODS <<<"${KTLS_VM_MODULES-veth sch_netem tcp_diag inet_diag}"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	--release) REL=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--tree) TREE=$2; shift 2 ;;
	--guest) GUEST=$2; shift 2 ;;
	--ko) KOS+=("$2"); shift 2 ;;
	--bin) BINS+=("$2"); shift 2 ;;
	--bin-dir) BINDIRS+=("$2"); shift 2 ;;
	--host-bin) HOSTBINS+=("$2"); shift 2 ;;
	--module) MODS+=("$2"); shift 2 ;;
	--file) FILES+=("$2"); shift 2 ;;
	-h | --help) usage ;;
	*) die "mkinitramfs: unknown argument '$1' (see --help)" ;;
	esac
done
[[ -n "$REL" && -n "$OUT" ]] || usage
need_cmd busybox cpio gzip depmod xz ldd readelf
[[ -f "$GUEST" ]] || die "guest script $GUEST not found"
[[ -n "$TREE" ]] || TREE=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$REL")
SRCMOD=$(modules_dir_of "$TREE" "$REL") || die "no lib/modules/$REL under $TREE"
[[ -f "$SRCMOD/modules.dep" ]] || die "$SRCMOD/modules.dep missing (run depmod -b on the tree)"

# A program is dynamic if it names an ELF interpreter (ld.so).
is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; }

BUSYBOX=$(command -v busybox)
is_dynamic "$BUSYBOX" && die "$BUSYBOX is dynamically linked: install busybox-static"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ktls-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,ktls/bin,lib/modules/"$REL"/extra}
chmod 1777 "$R/tmp"

# --- busybox and its applet links ------------------------------------------
cp "$BUSYBOX" "$R/bin/busybox"
while read -r path; do
	# The list contains busybox itself: linking it would overwrite the
	# binary with a link to itself (init then fails with ELOOP).
	[[ "$(basename "$path")" == busybox ]] && continue
	mkdir -p "$R/$(dirname "$path")"
	[[ -e "$R/$path" ]] || ln -s /bin/busybox "$R/$path"
done < <("$R/bin/busybox" --list-full)

# --- kernel modules ----------------------------------------------------------
# Whole crypto directories (every cipher a test may request through
# request_module()), Debian's in-tree tls.ko, and named extras; then the
# dependency closure from the package's modules.dep.
want=$(mktemp)
(
	cd "$SRCMOD"
	for d in kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto kernel/net/tls kernel/net/ipv6; do
		if [[ -d "$d" ]]; then find "$d" -name '*.ko*'; fi
	done
	for m in "${MODS[@]}"; do
		# Module names use - and _ interchangeably.
		re=$(printf '%s' "$m" | sed 's/[-_]/[-_]/g')
		hit=$(grep -oE "^[^:]*/${re}\.ko(\.[a-z]+)?:" modules.dep | tr -d ':' | head -n1 || true)
		if [[ -n "$hit" ]]; then echo "$hit"; else log "note: module $m not found in $REL (builtin or absent)"; fi
	done
) | sort -u >"$want"
# Dependency closure: keep adding deps until the set stops growing.
closure=$(awk '
	FNR == NR { want[$1] = 1; next }
	{ sub(":", "", $1); dep[$1] = ""; for (i = 2; i <= NF; i++) dep[$1] = dep[$1] " " $i }
	END {
		do {
			grew = 0
			for (m in want) {
				n = split(dep[m], d, " ")
				for (i = 1; i <= n; i++) if (!(d[i] in want)) { want[d[i]] = 1; grew = 1 }
			}
		} while (grew)
		for (m in want) print m
	}' "$want" "$SRCMOD/modules.dep" | sort)
rm -f "$want"
nmod=0
while read -r m; do
	[[ -n "$m" ]] || continue
	dst="$R/lib/modules/$REL/${m%.xz}"
	mkdir -p "$(dirname "$dst")"
	# Debian 6.12 ships .ko.xz; busybox modprobe/insmod need plain .ko.
	case "$m" in
	*.ko.xz) xz -dc "$SRCMOD/$m" >"$dst" ;;
	*.ko.zst) die "zstd-compressed modules not supported ($m)" ;;
	*) cp "$SRCMOD/$m" "$dst" ;;
	esac
	nmod=$((nmod + 1))
done <<<"$closure"
for f in modules.builtin modules.order; do
	if [[ -f "$SRCMOD/$f" ]]; then sed 's/\.ko\.xz$/.ko/' "$SRCMOD/$f" >"$R/lib/modules/$REL/$f"; fi
done
# modules.builtin.modinfo is binary (NUL-separated): copy it verbatim.
if [[ -f "$SRCMOD/modules.builtin.modinfo" ]]; then
	cp "$SRCMOD/modules.builtin.modinfo" "$R/lib/modules/$REL/"
fi

for ko in "${KOS[@]}"; do
	[[ -f "$ko" ]] || die "module $ko not found"
	cp "$ko" "$R/ktls/$(basename "$ko")"
	cp "$ko" "$R/lib/modules/$REL/extra/$(basename "$ko")"
done
depmod -b "$R" "$REL" || die "depmod failed on the initramfs tree"

# --- test programs -----------------------------------------------------------
for b in "${BINS[@]}"; do
	[[ -f "$b" ]] || die "binary $b not found"
	cp "$b" "$R/ktls/bin/"
done
for d in "${BINDIRS[@]}"; do
	[[ -d "$d" ]] || die "directory $d not found"
	find "$d" -maxdepth 1 -type f -perm -u+x -exec cp {} "$R/ktls/bin/" \;
done
# Dynamic programs in /ktls/bin would fail with a confusing "not found".
for b in "$R"/ktls/bin/*; do
	[[ -f "$b" ]] || continue
	if is_dynamic "$b"; then
		log "warning: $(basename "$b") is dynamically linked; adding its libraries"
		ldd "$b" | grep -oE '/[^ ]+' | while read -r lib; do
			if [[ ! -e "$R$lib" ]]; then
				mkdir -p "$R$(dirname "$lib")"
				cp -L "$lib" "$R$lib"
			fi
		done
	fi
done

# --- host programs with their shared libraries --------------------------------
copy_host_bin() {
	local name=$1 path lib
	path=$(command -v "$name") || die "host program $name not found"
	path=$(readlink -f "$path")
	mkdir -p "$R/usr/bin"
	rm -f "$R/usr/bin/$name" # may be a busybox link
	cp "$path" "$R/usr/bin/$name"
	# ldd prints "name => /path (addr)" or "/path (addr)" for the loader.
	ldd "$path" | grep -oE '/[^ ]+' | while read -r lib; do
		[[ -e "$R$lib" ]] && continue
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
	if [[ "$name" == openssl ]]; then
		mkdir -p "$R/etc/ssl" "$R/usr/lib/ssl"
		cp -L /etc/ssl/openssl.cnf "$R/etc/ssl/openssl.cnf"
		ln -sf /etc/ssl/openssl.cnf "$R/usr/lib/ssl/openssl.cnf"
		local libdir
		libdir=$(dirname "$(ldd "$path" | grep -oE '/[^ ]+libcrypto[^ ]*' | head -n1)")
		for sub in ossl-modules engines-3; do
			if [[ -d "$libdir/$sub" ]]; then
				mkdir -p "$R$libdir"
				cp -a "$libdir/$sub" "$R$libdir/"
			fi
		done
	fi
}
for h in "${HOSTBINS[@]}"; do copy_host_bin "$h"; done

for spec in "${FILES[@]}"; do
	src=${spec%%:*} dst=${spec#*:}
	[[ -e "$src" && "$dst" == /* ]] || die "bad --file '$spec' (want SRC:/DEST, SRC existing)"
	mkdir -p "$R$(dirname "$dst")"
	cp -a "$src" "$R$dst"
done

# --- /etc, guest script, environment -------------------------------------------
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
printf 'hosts: files\n' >"$R/etc/nsswitch.conf"
echo ktls-vm >"$R/etc/hostname"

cp "$GUEST" "$R/ktls/guest.sh"
chmod +x "$R/ktls/guest.sh"
intree="" ktls_ko=""
if [[ -f "$R/lib/modules/$REL/kernel/net/tls/tls.ko" ]]; then
	intree="/lib/modules/$REL/kernel/net/tls/tls.ko"
fi
if [[ -f "$R/ktls/ktls.ko" ]]; then ktls_ko=/ktls/ktls.ko; fi
cat >"$R/ktls/env" <<EOF
# Written by mkinitramfs.sh; sourced by /init before the guest script.
export KTLS_REL='$REL'
export KTLS_KO='$ktls_ko'
export KTLS_INTREE='$intree'
export KTLS_BIN=/ktls/bin
EOF

cat >"$R/init" <<'EOF'
#!/bin/sh
# initramfs /init for the ktls VM tests (generated by mkinitramfs.sh).
export PATH=/ktls/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Without /dev/console in the archive the kernel started us with no stdio.
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# Console log level 7: warnings must reach the serial log even if the
# command line said "quiet"; the host scans it for splats.
echo 7 >/proc/sys/kernel/printk
hostname ktls-vm
ip link set lo up
# ::1 appears with lo on IPv6 kernels; say so loudly if it did not.
ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || echo "ktls-init: warning: no ::1 on lo"
. /ktls/env
out=""
for arg in $(cat /proc/cmdline); do
	case "$arg" in ktlsvm.out=*) out=${arg#ktlsvm.out=} ;; esac
done
cd /tmp
echo "ktls-init: running guest script on $(uname -r)" >/dev/kmsg
if [ -n "$out" ] && [ -c "/dev/$out" ]; then
	# Closing the tty waits until the UART has sent everything.
	sh /ktls/guest.sh </dev/null >"/dev/$out" 2>&1
	rc=$?
	echo "KTLS-VM-DONE rc=$rc" >"/dev/$out"
else
	sh /ktls/guest.sh </dev/null
	rc=$?
	# Let the UART drain the tail of the guest's output before power-off.
	sleep 1
fi
# Through the kernel log: printed synchronously, never interleaved.
echo "KTLS-VM-DONE rc=$rc" >/dev/kmsg
sync
poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
EOF
chmod +x "$R/init"

# Device nodes need root; /init falls back to devtmpfs when they are absent.
if [[ $(id -u) -eq 0 ]]; then
	mknod -m 600 "$R/dev/console" c 5 1
	mknod -m 666 "$R/dev/null" c 1 3
fi

mkdir -p "$(dirname "$OUT")"
(cd "$R" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "initramfs $OUT: $nmod kernel modules, ${#KOS[@]} own module(s), $(find "$R/ktls/bin" -type f | wc -l) program(s), $(du -h "$OUT" | cut -f1)"
