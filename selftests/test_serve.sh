#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ktls-serve and ktls-get against unmodified peers, in the VM (busybox sh):
# curl and openssl s_client download from ktls-serve byte-exact, every
# version and cipher; ktls-get downloads from openssl s_server -WWW; HTTP
# behaviour (HEAD, Range, 404, 403, 400, keep-alive); bad peers; SIGTERM.
# KTAP output.  $KTLS_SERVE_MB sets the big file's size (default 64).
# `test_serve.sh sclient` runs only the s_client downloads (its own test
# program, test_serve_sclient.sh, so each stays well inside the timeout).

B=${KTLS_BIN:-/ktls/bin}
MB=${KTLS_SERVE_MB:-64}
ULP=${KTLS_ULP:-tls}
W=$(mktemp -d /tmp/serve.XXXXXX)
PORT=9443
# Slow kernels (KASAN, lockdep) stretch every wait: KTLS_TIME_SCALE=N.
S=${KTLS_TIME_SCALE:-1}
n=0
failed=0

check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# need_ktls(), shared with the other test_*.sh scripts.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PART=${1:-main}
echo "KTAP version 1"
if [ "$PART" = sclient ]; then
	echo "# suite: ktls-serve-s_client"
	echo "1..6"
else
	echo "# suite: ktls-serve"
	echo "1..28"
fi
# KTLS_SERVE_INTREE=1 (checking this script itself): Debian's tls.ko.
if [ -n "${KTLS_SERVE_INTREE:-}" ]; then
	grep -q '^tls ' /proc/modules || insmod "$KTLS_INTREE" || exit 1
elif ! need_ktls; then
	echo "# cannot load ktls with ulp_name=$ULP"
	exit 1
fi
cd "$W" || exit 1
mkdir -p www/sub
dd if=/dev/urandom of=www/big.bin bs=1M count="$MB" 2>/dev/null
head -c 16777216 www/big.bin >www/mid.bin
printf 'hello ktls\n' >www/sub/small.txt
echo secret >outside.txt
want=$(sha256sum www/big.bin | cut -d' ' -f1)
size=$(stat -c %s www/big.bin)
URL=https://127.0.0.1:$PORT

"$B/ktls-serve" -l 127.0.0.1 -p "$PORT" --handshake-timeout $((10 * S)) \
	www >serve.log 2>&1 &
srv=$!
i=0
while ! grep -q listening serve.log 2>/dev/null && [ $i -lt $((100 * S)) ]; do
	i=$((i + 1))
	sleep 0.1
done
grep -q listening serve.log || { cat serve.log; exit 1; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
# "stats: C connections, T threads, F fds" from the server itself (SIGUSR1;
# this script may run in a PID namespace where /proc/$srv is not it).
stats() {
	before=$(grep -c '^stats:' serve.log)
	kill -USR1 "$srv"
	i=0
	while [ "$(grep -c '^stats:' serve.log)" -eq "$before" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	grep '^stats:' serve.log | tail -n 1
}
conns() { stats | awk '{ print $2 }'; }
threads() { stats | awk '{ print $4 }'; }
fds() { stats | awk '{ print $6 }'; }
base_fds=$(fds)
base_threads=$(threads)
diag "server at start: $(stats)"

# --- curl: each version and cipher, 64 MiB byte-exact ----------------------
curl_get() {
	label=$1
	shift
	rm -f got.bin
	t0=$(date +%s)
	if curl -sSk --http1.1 "$@" "$URL/big.bin" -o got.bin 2>curl.err &&
	   [ "$(sha got.bin)" = "$want" ]; then
		ok "curl_$label"
		diag "curl $label: $size bytes in $(($(date +%s) - t0))s"
	else
		not_ok "curl_$label"
		cat curl.err
		tail -n 5 serve.log
	fi
}
if [ "$PART" = main ]; then
	curl_get tls12_aes128gcm --tlsv1.2 --tls-max 1.2 \
		--ciphers ECDHE-ECDSA-AES128-GCM-SHA256
	curl_get tls12_aes256gcm --tlsv1.2 --tls-max 1.2 \
		--ciphers ECDHE-ECDSA-AES256-GCM-SHA384
	curl_get tls12_chacha20 --tlsv1.2 --tls-max 1.2 \
		--ciphers ECDHE-ECDSA-CHACHA20-POLY1305
	curl_get tls13_aes128gcm --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
	curl_get tls13_aes256gcm --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384
	curl_get tls13_chacha20 --tlsv1.3 \
		--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
fi

# --- openssl s_client -------------------------------------------------------
sclient_get() {
	label=$1
	shift
	printf 'GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		openssl s_client -connect "127.0.0.1:$PORT" -quiet -ign_eof \
			"$@" >reply.bin 2>sclient.err
	tail -c "$size" reply.bin >got.bin
	if head -c 12 reply.bin | grep -q '^HTTP/1.1 200' &&
	   [ "$(sha got.bin)" = "$want" ]; then
		ok "s_client_$label"
	else
		not_ok "s_client_$label"
		head -c 200 reply.bin | od -c | head -n 5
		tail -n 5 sclient.err serve.log
	fi
}
if [ "$PART" = sclient ]; then
	sclient_get tls12_aes128gcm -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
	sclient_get tls12_aes256gcm -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
	sclient_get tls12_chacha20 -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
	sclient_get tls13_aes128gcm -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
	sclient_get tls13_aes256gcm -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
	sclient_get tls13_chacha20 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
	kill -TERM "$srv"
	wait "$srv"
	cd /
	rm -rf "$W"
	exit $failed
fi

# --- HTTP behaviour ---------------------------------------------------------
code() { curl -sk --http1.1 -o body.out -w '%{http_code}' "$@"; }
t_head() {
	[ "$(curl -skI --http1.1 "$URL/big.bin" | tr -d '\r' |
		sed -n 's/^Content-Length: //p')" = "$size" ] &&
		[ "$(curl -skI --http1.1 "$URL/big.bin" | wc -c)" -lt 1000 ]
}
t_range() {
	[ "$(code -r 1000-1999 "$URL/big.bin")" = 206 ] &&
		[ "$(sha body.out)" = "$(dd if=www/big.bin bs=1000 skip=1 \
			count=1 2>/dev/null | sha256sum | cut -d' ' -f1)" ]
}
t_range_suffix() {
	[ "$(code -r -5 "$URL/sub/small.txt")" = 206 ] &&
		[ "$(cat body.out)" = "ktls" ]
}
# Several ranges: multipart/byteranges, rebuilt here byte by byte (part
# heads from the boundary the server chose, file bytes with tail/head), and
# the access log says 206, the whole length, over kernel TLS (sendfile).
mr_part() {
	printf '%b--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %s-%s/%s\r\n\r\n' \
		"$1" "$bnd" "$2" "$3" "$size"
	tail -c +$(($2 + 1)) www/big.bin | head -c $(($3 - $2 + 1))
}
t_multirange() {
	rm -f body.out mh.txt
	st=$(curl -sk --http1.1 -A multirange -r 0-9,1000-1999,$((size - 300000))-,5-5 \
		-D mh.txt -o body.out -w '%{http_code}' "$URL/big.bin")
	bnd=$(tr -d '\r' <mh.txt |
		sed -n 's|^Content-Type: multipart/byteranges; boundary=||p')
	cl=$(tr -d '\r' <mh.txt | sed -n 's/^Content-Length: //p')
	{
		mr_part '' 0 9
		mr_part '\r\n' 1000 1999
		mr_part '\r\n' $((size - 300000)) $((size - 1))
		mr_part '\r\n' 5 5
		printf '\r\n--%s--\r\n' "$bnd"
	} >want.out
	line=$(grep '"multirange"' serve.log | tail -n 1)
	diag "multirange: $st, boundary $bnd, Content-Length $cl, got $(wc -c <body.out) bytes; log: ${line#*\"GET}"
	[ "$st" = 206 ] && [ -n "$bnd" ] && cmp -s want.out body.out &&
		[ "$cl" = "$(wc -c <body.out)" ] &&
		echo "$line" | grep -q "\" 206 $cl .* ktls"
}
# HEAD with several ranges: the same head, no body.
t_multirange_head() {
	hl=$(curl -sk --http1.1 -I -r 0-1,3-4 "$URL/sub/small.txt" |
		tr -d '\r')
	echo "$hl" | grep -q '^HTTP/1.1 206' &&
		echo "$hl" | grep -q '^Content-Type: multipart/byteranges; boundary=' &&
		[ -n "$(echo "$hl" | sed -n 's/^Content-Length: //p')" ]
}
# Overlapping ranges adding up past the file: the whole body, 200.
t_multirange_overlap() {
	[ "$(code -r 0-,0-,0- "$URL/sub/small.txt")" = 200 ] &&
		[ "$(cat body.out)" = "hello ktls" ]
}
t_traversal() {
	[ "$(code --path-as-is "$URL/../outside.txt")" != 200 ] &&
		! grep -q secret body.out &&
		[ "$(code --path-as-is "$URL/sub/%2e%2e/%2e%2e/outside.txt")" != 200 ] &&
		! grep -q secret body.out
}
t_small() {
	[ "$(code "$URL/sub/small.txt")" = 200 ] &&
		[ "$(cat body.out)" = "hello ktls" ]
}
# Two URLs, one connection: the second reuses it (keep-alive).
t_keepalive() {
	[ "$(curl -sk --http1.1 -o /dev/null -o /dev/null \
		-w '%{num_connects}' "$URL/sub/small.txt" "$URL/sub/small.txt")" = 10 ]
}
t_malformed() {
	printf 'NONSENSE\r\n\r\n' |
		openssl s_client -connect "127.0.0.1:$PORT" -quiet -ign_eof \
			>bad.out 2>/dev/null
	grep -q '^HTTP/1.1 400' bad.out
}
check head t_head
check range_206 t_range
check range_suffix t_range_suffix
check range_416 [ "$(code -r 999999999- "$URL/sub/small.txt")" = 416 ]
check multirange_206 t_multirange
check multirange_head t_multirange_head
check multirange_overlap_200 t_multirange_overlap
check not_found_404 [ "$(code "$URL/nope")" = 404 ]
check traversal_refused t_traversal
check small_file t_small
check keepalive t_keepalive
check malformed_400 t_malformed

# --- ktls-get from openssl s_server -WWW (userspace TLS) --------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=s_server -days 1 -keyout k.pem -out c.pem 2>/dev/null
sget() {
	label=$1
	shift
	(cd www && exec openssl s_server -accept 9555 -cert ../c.pem \
		-key ../k.pem -WWW "$@") >s_server.log 2>&1 &
	ss=$!
	i=0
	while ! netstat -ltn 2>/dev/null | grep -q ':9555 ' && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	rm -f got.bin
	if "$B/ktls-get" --insecure -o got.bin https://127.0.0.1:9555/mid.bin \
		>get.out 2>&1 && [ "$(sha got.bin)" = "$(sha www/mid.bin)" ]; then
		ok "ktls_get_$label"
		diag "$(cat get.out)"
	else
		not_ok "ktls_get_$label"
		cat get.out
	fi
	kill $ss 2>/dev/null
	wait $ss 2>/dev/null
}
sget tls12 -tls1_2
sget tls13 -tls1_3
# Both ends kernel TLS: ktls-get (RX) from ktls-serve (TX), Content-Length.
t_get_ours() {
	rm -f got.bin
	if "$B/ktls-get" --insecure -o got.bin "$URL/mid.bin" >get.out 2>&1 &&
	   [ "$(sha got.bin)" = "$(sha www/mid.bin)" ]; then
		diag "$(cat get.out)"
	else
		cat get.out
		return 1
	fi
}
check ktls_get_from_ktls_serve t_get_ours

# --- bad peers --------------------------------------------------------------
printf 'garbage, not a ClientHello\r\n\r\n' | nc -w 2 127.0.0.1 "$PORT" >/dev/null
# A handshake record header announcing 512 bytes, then 6 of them.
printf '\026\003\001\002\000\001\000\001\374\003\003' |
	nc -w 2 127.0.0.1 "$PORT" >/dev/null
check garbage_and_truncated_logged [ "$(grep -c 'TLS handshake (server)' serve.log)" -ge 2 ]
# A client that goes away mid-transfer.
curl -sk --http1.1 "$URL/big.bin" 2>/dev/null | head -c 100000 >/dev/null
check serves_after_bad_peers [ "$(code "$URL/sub/small.txt")" = 200 ]
# 200 idle TCP connections, and a download meanwhile.
"$B/hold_conns" 127.0.0.1 "$PORT" 200 $((20 * S)) &
# Accepting them all takes a while on a slow (debug) kernel; the first
# ones must not reach the handshake timeout (10 s x S) meanwhile.
i=0
while [ "$(conns)" -lt 200 ] && [ $i -lt $((16 * S)) ]; do
	sleep 0.5
	i=$((i + 1))
done
diag "with 200 idle connections: $(stats)"
check holds_200_idle [ "$(conns)" -ge 200 ]
check serves_with_200_idle t_small
# The handshake timeout (10 s) drops them; nothing stays behind.
sleep $((12 * S))
i=0
while [ "$(conns)" -gt 0 ] && [ $i -lt $((8 * S)) ]; do
	sleep 1
	i=$((i + 1))
done
t_no_leaks() {
	[ "$(conns)" -eq 0 ] && [ "$(fds)" -le "$base_fds" ] &&
		[ "$(threads)" -le "$base_threads" ]
}
check no_leaked_fds_or_threads t_no_leaks
diag "after: $(stats)"

kill -TERM "$srv"
wait "$srv"
rc=$?
check sigterm_clean_exit [ $rc -eq 0 ]
check log_line_per_request grep -q '"GET /big.bin HTTP/1.1" 200' serve.log
diag "$(grep -c '" [0-9][0-9][0-9] ' serve.log) requests logged"
cd /
rm -rf "$W"
exit $failed
