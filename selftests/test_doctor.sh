#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ktls-doctor in the VM (busybox sh), KTAP output.  With ktls loaded every
# row passes (the record rows decrypt the kernel's records with OpenSSL and
# feed it OpenSSL-sealed ones); without ktls it fails with the fix; with
# the in-tree tls.ko holding "tls" it says so; the doctor's own record code
# also passes against Debian's tls.ko; a locked-down kernel without ktls
# gets the MOK signing advice.  Ends with ktls loaded again as "tls".
#
# tls.ko is only ever loaded while ktls is out (never after ktls took
# "tls": its rmmod would corrupt the ULP list).

B=${KTLS_BIN:-/ktls/bin}
KO=${KTLS_KO:-/ktls/ktls.ko}
DOC=$B/ktls-doctor
W=$(mktemp -d /tmp/doctor.XXXXXX)
n=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1))
	echo "not ok $n $1"
	[ -f "$W/out" ] && sed 's/^/# /' "$W/out"
}

# doctor ARGS...: run it, keep output in $W/out and exit status in $rc.
doctor() {
	"$DOC" "$@" >"$W/out" 2>&1
	rc=$?
}
# row STATUS CHECK: the table has this row with this status.
row() { grep -q "^$1  $2" "$W/out"; }
count() { grep -c "^$1  " "$W/out"; }

ktls_out() {
	[ -e /sys/module/ktls ] && rmmod ktls
	[ ! -e /sys/module/ktls ]
}
intree_out() {
	[ -e /sys/module/tls ] && rmmod tls
	[ ! -e /sys/module/tls ]
}
load_tls_ko() {
	modprobe tls 2>/dev/null || insmod "$KTLS_INTREE"
	[ -e /sys/module/tls ]
}

echo "KTAP version 1"
echo "# suite: ktls-doctor"
echo "1..9"
if [ ! -x "$DOC" ]; then
	echo "# $DOC missing"
	exit 1
fi

# 1: ktls as "tls", nothing else: every row passes, exit 0.
ktls_out && intree_out && insmod "$KO" ulp_name=tls
doctor
sed 's/^/# /' "$W/out"
if [ $rc -eq 0 ] && [ "$(count FAIL)" -eq 0 ] &&
   [ "$(grep -c '^PASS  TLS 1\.[23] ' "$W/out")" -eq 8 ] &&
   row PASS "OpenSSL built with kTLS" && row PASS "ULP registered" &&
   row PASS "crypto rfc7539(chacha20,poly1305)" &&
   row PASS "in-kernel KeyUpdate, padding" &&
   grep -q 'KeyUpdate TX-rekey padding TX-KeyUpdate; libktls hands TLS 1.3 secrets to the kernel by default' "$W/out"; then
	ok "all rows pass with ktls loaded"
else
	not_ok "all rows pass with ktls loaded (rc=$rc)"
fi

# 2: ktls unloaded: fails with the fix, and does not pull in tls.ko
# (setsockopt(TCP_ULP, "tls") would auto-load it).
ktls_out
doctor
if [ $rc -eq 1 ] && row FAIL "ktls module loaded" &&
   grep -q 'fix: modprobe ktls' "$W/out" &&
   [ "$(grep -c '^SKIP  TLS 1\.[23] ' "$W/out")" -eq 8 ] &&
   [ ! -e /sys/module/tls ]; then
	ok "ktls unloaded: FAIL with the fix, tls.ko not auto-loaded"
else
	not_ok "ktls unloaded: FAIL with the fix, tls.ko not auto-loaded (rc=$rc)"
fi

# 3: in-tree tls.ko holds "tls" and ktls is out.
if load_tls_ko; then
	doctor
	if [ $rc -eq 1 ] && row FAIL "in-tree tls.ko not in the way" &&
	   grep -q 'EEXIST' "$W/out" && grep -q 'fix: rmmod tls' "$W/out"; then
		ok "tls.ko in the way: reported with the fix"
	else
		not_ok "tls.ko in the way: reported with the fix (rc=$rc)"
	fi
else
	not_ok "tls.ko in the way # cannot load tls.ko"
fi

# 4: the doctor's own record code against Debian's kTLS (independent of
# ktls): every exchange passes.
doctor --ulp tls --no-openssl
if [ "$(grep -c '^PASS  TLS 1\.[23] ' "$W/out")" -eq 8 ] &&
   row WARN "in-kernel KeyUpdate, padding"; then
	ok "record rows pass against the in-tree tls.ko"
else
	not_ok "record rows pass against the in-tree tls.ko"
fi

# 5: ktls beside tls.ko as "ktls": warnings, records pass through ktls.
if insmod "$KO" ulp_name=ktls; then
	doctor
	if [ $rc -eq 0 ] && row WARN "ULP registered" &&
	   row WARN "in-tree tls.ko not in the way" &&
	   [ "$(grep -c '^PASS  TLS 1\.[23] ' "$W/out")" -eq 8 ] &&
	   row SKIP "OpenSSL built with kTLS"; then
		ok "ktls as \"ktls\" beside tls.ko: warns, records pass"
	else
		not_ok "ktls as \"ktls\" beside tls.ko: warns, records pass (rc=$rc)"
	fi
else
	not_ok "ktls as \"ktls\" beside tls.ko # insmod failed"
fi

# 6: an unknown ULP name: the exchanges are skipped and the exit is 1.
doctor --ulp nosuchulp --no-openssl
if [ $rc -eq 1 ] && [ "$(grep -c '^SKIP  TLS 1\.[23] ' "$W/out")" -eq 8 ]; then
	ok "unregistered ULP name: exchanges skipped, exit 1"
else
	not_ok "unregistered ULP name: exchanges skipped, exit 1 (rc=$rc)"
fi

# 7: lockdown without ktls: the MOK advice (fake /sys and /proc tree).
F=$W/root
mkdir -p "$F/sys/kernel/security" "$F/proc/sys/net/ipv4" "$F/proc/sys/kernel"
echo "none [integrity] confidentiality" >"$F/sys/kernel/security/lockdown"
echo "" >"$F/proc/sys/net/ipv4/tcp_available_ulp"
echo 0 >"$F/proc/sys/kernel/modules_disabled"
cp /proc/crypto "$F/proc/crypto"
doctor --root "$F" --no-openssl
if [ $rc -eq 1 ] && row FAIL "Secure Boot / lockdown" &&
   grep -q 'lockdown integrity' "$W/out" &&
   grep -q 'mokutil --import' "$W/out"; then
	ok "lockdown without ktls: MOK signing advice"
else
	not_ok "lockdown without ktls: MOK signing advice (rc=$rc)"
fi

# 8: modules disabled is its own failure.
echo "[none] integrity confidentiality" >"$F/sys/kernel/security/lockdown"
echo 1 >"$F/proc/sys/kernel/modules_disabled"
doctor --root "$F" --no-openssl
if [ $rc -eq 1 ] && grep -q '^FAIL  Secure Boot / lockdown .*modules_disabled' "$W/out"; then
	ok "modules_disabled=1 reported"
else
	not_ok "modules_disabled=1 reported (rc=$rc)"
fi

# 9: back to the standard state: ktls holds "tls", tls.ko gone.
ktls_out && intree_out && insmod "$KO" ulp_name=tls
if [ "$(cat /sys/module/ktls/parameters/ulp_name 2>/dev/null)" = tls ] &&
   [ ! -e /sys/module/tls ]; then
	ok "ktls reloaded as \"tls\""
else
	not_ok "ktls reloaded as \"tls\""
fi
rm -rf "$W"
