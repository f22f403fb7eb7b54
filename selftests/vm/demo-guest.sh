#!/bin/sh
# `make run` inside the VM: load ktls, serve a file over kernel TLS with
# sendfile (OpenSSL's own kTLS support drives our module through the
# standard UAPI), fetch it with a stock OpenSSL client, verify it.
# Its exit status reaches the host as "KTLS-VM-DONE rc=N".
set -eu

SIZE_MB=${KTLS_DEMO_MB:-16}
PORT=4433
W=/tmp/demo
mkdir -p "$W/www"
cd "$W"

step() { echo "== $*"; }
fail() { echo "demo FAILED: $*"; exit 1; }

step "ktls demo on $(uname -r)"
insmod "${KTLS_KO:-/ktls/ktls.ko}"
step "ktls registered TCP ULP \"$(cat /sys/module/ktls/parameters/ulp_name)\""
dmesg | grep ktls | tail -n 2

step "a ${SIZE_MB} MiB random file and a self-signed certificate"
dd if=/dev/urandom of=www/file.bin bs=1M count="$SIZE_MB" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=ktls-demo -days 1 -keyout key.pem -out cert.pem 2>/dev/null

# Options = KTLS makes libssl hand the keys to the kernel (TCP_ULP "tls").
cat >ktls.cnf <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = ssl_default
[ssl_default]
Options = KTLS
EOF

want=$(sha256sum www/file.bin | cut -d' ' -f1)
bytes=$((SIZE_MB * 1024 * 1024))
status=0

# One server per protocol/cipher; s_server -WWW serves files from cwd and
# with -sendfile uses SSL_sendfile(), which needs kernel TLS TX.
serve_and_fetch() {
	label=$1
	shift
	(cd www && OPENSSL_CONF="$W/ktls.cnf" exec openssl s_server \
		-accept "$PORT" -cert ../cert.pem -key ../key.pem -WWW \
		-sendfile "$@") >"$W/server.log" 2>&1 &
	srv=$!
	i=0
	while ! netstat -ltn 2>/dev/null | grep -q ":$PORT "; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "s_server did not start: $(cat "$W/server.log")"
		sleep 0.1
	done

	start=$(date +%s)
	printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
		openssl s_client -connect "127.0.0.1:$PORT" -quiet -ign_eof \
			>"$W/reply" 2>"$W/client.log" || true
	secs=$(($(date +%s) - start))
	kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true

	# The reply is "HTTP/1.0 200 ok" headers, then the file.
	tail -c "$bytes" "$W/reply" >"$W/got.bin"
	got=$(sha256sum "$W/got.bin" | cut -d' ' -f1)
	# s_server logs "KTLS SENDFILE '<file>' OK" only when SSL_sendfile ran.
	if ! grep -q "KTLS SENDFILE" "$W/server.log"; then
		echo "FAIL $label: the server fell back to userspace TLS"
		cat "$W/server.log"
		status=1
	elif [ "$got" != "$want" ]; then
		echo "FAIL $label: sha256 $got != $want"
		head -c 300 "$W/reply" | od -c | head -n 8
		cat "$W/client.log" "$W/server.log"
		status=1
	else
		echo "ok   $label: $bytes bytes by kernel TLS sendfile in" \
			"${secs}s, sha256 matches"
	fi
	PORT=$((PORT + 1))
}

step "serving over kernel TLS, fetching with openssl s_client"
serve_and_fetch "TLS 1.2 AES-128-GCM" -tls1_2 \
	-cipher ECDHE-ECDSA-AES128-GCM-SHA256
serve_and_fetch "TLS 1.2 AES-256-GCM" -tls1_2 \
	-cipher ECDHE-ECDSA-AES256-GCM-SHA384
serve_and_fetch "TLS 1.2 ChaCha20-Poly1305" -tls1_2 \
	-cipher ECDHE-ECDSA-CHACHA20-POLY1305
serve_and_fetch "TLS 1.3 AES-128-GCM" -tls1_3 \
	-ciphersuites TLS_AES_128_GCM_SHA256
serve_and_fetch "TLS 1.3 ChaCha20-Poly1305" -tls1_3 \
	-ciphersuites TLS_CHACHA20_POLY1305_SHA256

step "ktls after the run"
grep '^ktls ' /proc/modules
# The keys went to ktls, not to an auto-loaded in-tree tls.ko.
if grep -q '^tls ' /proc/modules; then
	echo "FAIL: the in-tree tls module was loaded"
	status=1
fi
dmesg | grep -i -E 'ktls|tls' | tail -n 5 || true
[ $status -eq 0 ] && step "demo passed" || step "demo failed"
exit $status
