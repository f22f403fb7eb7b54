#!/bin/sh
# Interop with an unmodified OpenSSL: its own kTLS support (Options = KTLS)
# hands the keys to ktls through the standard UAPI.  The server sends a file
# with SSL_sendfile() (kernel TLS TX + sendfile); the client is a stock
# `openssl s_client` in userspace, or with kTLS too (kernel TLS RX for
# TLS 1.2: OpenSSL 3.0 has no TLS 1.3 kTLS RX).  Output: KTAP.
set -u

W=$(mktemp -d /tmp/ossl-ktls.XXXXXX)
PORT=4433
SIZE=$((3 * 1024 * 1024 + 4321))
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $1"
	shift
	for f in "$@"; do sed 's/^/# /' "$f" | tail -n 15; done
}

if [ ! -d /sys/module/ktls ]; then
	insmod "${KTLS_KO:-/ktls/ktls.ko}" || exit 1
fi

mkdir -p "$W/www"
head -c "$SIZE" /dev/urandom >"$W/www/file.bin"
want=$(sha256sum "$W/www/file.bin" | cut -d' ' -f1)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=ktls-test -days 1 -keyout "$W/key.pem" -out "$W/cert.pem" \
	2>/dev/null
cat >"$W/ktls.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = ssl_default
[ssl_default]
Options = KTLS
EOF

# fetch LABEL CLIENT_KTLS(0|1) SERVER_ARGS...
fetch() {
	label=$1
	cktls=$2
	shift 2
	(cd "$W/www" && OPENSSL_CONF="$W/ktls.cnf" exec openssl s_server \
		-accept "$PORT" -cert ../cert.pem -key ../key.pem -WWW \
		-sendfile "$@") >"$W/server.log" 2>&1 &
	srv=$!
	i=0
	while ! netstat -ltn 2>/dev/null | grep -q ":$PORT "; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			kill $srv 2>/dev/null
			not_ok "$label # s_server did not start" "$W/server.log"
			return
		fi
		sleep 0.1
	done
	conf=/dev/null
	[ "$cktls" = 1 ] && conf="$W/ktls.cnf"
	printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
		OPENSSL_CONF=$conf openssl s_client -connect "127.0.0.1:$PORT" \
			-quiet -ign_eof >"$W/reply" 2>"$W/client.log"
	kill $srv 2>/dev/null
	wait $srv 2>/dev/null
	PORT=$((PORT + 1))

	# s_server -WWW: "HTTP/1.0 200 ok" headers, then the file.
	got=$(tail -c "$SIZE" "$W/reply" | sha256sum | cut -d' ' -f1)
	if ! grep -q "KTLS SENDFILE" "$W/server.log"; then
		not_ok "$label # server did not use kTLS sendfile" \
			"$W/server.log"
	elif [ "$got" != "$want" ]; then
		not_ok "$label # body sha256 differs" "$W/client.log" \
			"$W/server.log"
	else
		ok "$label"
	fi
}

echo "KTAP version 1"
echo "# suite: openssl_ktls"
echo "1..9"
fetch "tls12_aes128gcm_sendfile" 0 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
fetch "tls12_aes256gcm_sendfile" 0 -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
fetch "tls12_chacha20_sendfile" 0 -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
fetch "tls13_aes128gcm_sendfile" 0 -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
fetch "tls13_aes256gcm_sendfile" 0 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
fetch "tls13_chacha20_sendfile" 0 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
fetch "tls12_aes128gcm_ktls_both_ends" 1 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
fetch "tls12_chacha20_ktls_both_ends" 1 -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
fetch "tls13_aes256gcm_ktls_both_ends" 1 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
rm -rf "$W"
[ $failed -eq 0 ]
