#!/bin/sh
# `make run` inside the VM, the main job end to end: load ktls, start
# ktls-serve (libktls handshake, keys handed to the kernel, bodies sent with
# sendfile() through kernel TLS) with a generated certificate, download a
# 64 MiB file with an unmodified curl, check its sha256, print throughput.
# Its exit status reaches the host as "KTLS-VM-DONE rc=N".
set -eu

SIZE_MB=${KTLS_DEMO_MB:-64}
PORT=8443
W=/tmp/demo
mkdir -p "$W/www"
cd "$W"

step() { echo "== $*"; }
fail() { echo "demo FAILED: $*"; exit 1; }

step "ktls demo on $(uname -r)"
insmod "${KTLS_KO:-/ktls/ktls.ko}"
step "ktls registered TCP ULP \"$(cat /sys/module/ktls/parameters/ulp_name)\""
command -v ktls-serve >/dev/null || fail "ktls-serve is not in the image"
command -v curl >/dev/null || fail "curl is not in the image (install it on the host)"

step "a ${SIZE_MB} MiB random file"
dd if=/dev/urandom of=www/file.bin bs=1M count="$SIZE_MB" 2>/dev/null
want=$(sha256sum www/file.bin | cut -d' ' -f1)
bytes=$(stat -c %s www/file.bin)

step "ktls-serve on 127.0.0.1:$PORT (self-signed certificate generated)"
# --trace: each connection's handshake, key derivation and kernel handoff.
ktls-serve --trace --listen 127.0.0.1 --port "$PORT" www >serve.log 2>&1 &
srv=$!
i=0
until grep -q listening serve.log 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "ktls-serve did not start: $(cat serve.log)"
	sleep 0.1
done
grep -v "^\[conn" serve.log

status=0
fetch() {
	label=$1
	shift
	rm -f got.bin
	# curl reports bytes/second; the body comes from sendfile() in ktls.
	if ! speed=$(curl -sSk --http1.1 "$@" -o got.bin \
		-w '%{speed_download}' "https://127.0.0.1:$PORT/file.bin"); then
		echo "FAIL $label: curl failed"
		status=1
		return
	fi
	got=$(sha256sum got.bin | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		echo "FAIL $label: sha256 $got != $want"
		status=1
		return
	fi
	echo "ok   $label: $bytes bytes, sha256 matches," \
		"$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }') MB/s"
}

step "curl downloads file.bin over HTTPS"
fetch "TLS 1.3 (curl's default suite)" --tlsv1.3
fetch "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256" --tlsv1.2 --tls-max 1.2 \
	--ciphers ECDHE-ECDSA-AES128-GCM-SHA256

step "ktls-serve log (--trace: handshake, key derivation, kernel handoff)"
kill -TERM "$srv"
wait "$srv" || status=1
cat serve.log

step "ktls after the run"
grep '^ktls ' /proc/modules
# The keys went to ktls, not to an auto-loaded in-tree tls.ko.
if grep -q '^tls ' /proc/modules; then
	echo "FAIL: the in-tree tls module was loaded"
	status=1
fi
[ $status -eq 0 ] && step "demo passed" || step "demo failed"
exit $status
