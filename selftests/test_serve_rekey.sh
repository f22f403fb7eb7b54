#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# TLS 1.3 key updates through ktls-serve, with the kernel rekeying (libktls
# hands it the traffic secrets by default).  KTAP.
#
# curl: --rekey-bytes goes to the kernel as KTLS_TX_REKEY_RECORDS; the
# download is byte-exact for every TLS 1.3 cipher and KtlsTxKeyUpdateAuto
# moves by the records over the limit, while the userspace rekey counters
# (TlsTxRekeyOk: the program re-setting TLS_TX) stay put.  TLS 1.2 has none.
#
# openssl s_client (unmodified) types K and k during keep-alive downloads
# from a server that never rekeys by itself: every KeyUpdate is followed
# by the kernel (KtlsRxKeyUpdateAuto), each K answered
# (KtlsKeyUpdateAnswered), every body is byte-exact, and the server
# program made no call for it (no TlsRxRekeyOk/TlsTxRekeyOk) and logged no
# error.

B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
W=$(mktemp -d /tmp/rekey.XXXXXX)
PORT=9543
PORT2=9544
MB=8
SC_MB=4
REKEY=1000000
REC=16384
n=0
failed=0

# need_ktls(), shared with the other test_*.sh scripts.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/ktls_stat; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

start_serve() {
	log=$1
	shift
	"$B/ktls-serve" -l 127.0.0.1 "$@" www >"$log" 2>&1 &
	i=0
	while ! grep -q listening "$log" 2>/dev/null && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	grep -q listening "$log" || { cat "$log"; exit 1; }
}

echo "KTAP version 1"
echo "# suite: ktls-serve-rekey"
echo "1..7"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir www
dd if=/dev/urandom of=www/big.bin bs=1M count="$MB" 2>/dev/null
dd if=/dev/urandom of=www/part.bin bs=1M count="$SC_MB" 2>/dev/null
want=$(sha www/big.bin)
size=$(stat -c %s www/big.bin)
# The kernel counts records: the limit is REKEY bytes in full records,
# rounded up; the body is size / REC full ones plus the header record
# (and at most one short record at a sendfile chunk's end).
every=$(((REKEY + REC - 1) / REC))
lo=$((size / REC / every))
hi=$(((size / REC + 2) / every))

start_serve serve.log -p "$PORT" --rekey-bytes "$REKEY" --trace
srv=$!

# get LABEL TLS13(0|1) curl-args...
get() {
	label=$1
	tls13=$2
	shift 2
	rm -f got.bin
	b_auto=$(stat_of KtlsTxKeyUpdateAuto)
	b_user=$(stat_of TlsTxRekeyOk)
	if curl -sSk --http1.1 "$@" "https://127.0.0.1:$PORT/big.bin" \
		-o got.bin 2>curl.err && [ "$(sha got.bin)" = "$want" ]; then
		auto=$(($(stat_of KtlsTxKeyUpdateAuto) - b_auto))
		user=$(($(stat_of TlsTxRekeyOk) - b_user))
		if [ "$tls13" = 1 ]; then l=$lo h=$hi; else l=0 h=0; fi
		if [ "$auto" -ge "$l" ] && [ "$auto" -le "$h" ] &&
		   [ "$user" -eq 0 ] && [ "$(stat_of KtlsKeyUpdateFail)" -eq 0 ] &&
		   [ "$(stat_of TlsTxRekeyError)" -eq 0 ]; then
			ok "$label"
			diag "$label: $auto kernel KeyUpdates"
		else
			not_ok "$label"
			diag "KtlsTxKeyUpdateAuto moved by $auto (want $l..$h), TlsTxRekeyOk by $user"
		fi
	else
		not_ok "$label"
		cat curl.err
		tail -n 5 serve.log
	fi
}
get curl_tls13_aes128gcm 1 --tlsv1.3 \
	--tls13-ciphers TLS_AES_128_GCM_SHA256
get curl_tls13_aes256gcm 1 --tlsv1.3 \
	--tls13-ciphers TLS_AES_256_GCM_SHA384
get curl_tls13_chacha20 1 --tlsv1.3 \
	--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
get curl_tls12_no_updates 0 --tlsv1.2 --tls-max 1.2 \
	--ciphers ECDHE-ECDSA-AES128-GCM-SHA256
# --trace names the limit and the generations the kernel reached.
if grep -q "KeyUpdate after every $every records" serve.log &&
   grep -q "kernel: TX key generation" serve.log; then
	ok trace_shows_kernel_generations
else
	not_ok trace_shows_kernel_generations
	grep -i "kernel" serve.log | tail -n 5
fi
kill "$srv"
wait "$srv" 2>/dev/null

# --- openssl s_client types K (update_requested) and k -------------------
# s_client reads its stdin only when the socket has nothing to read, and
# takes a line that starts with K or k as a command only if it comes alone:
# so each line is written once s_client has taken the one before (its
# KEYUPDATE on stderr, or the response growing after a GET).
want2=$(sha www/part.bin)
size2=$(stat -c %s www/part.bin)
ROUNDS=6
start_serve serve2.log -p "$PORT2"
srv=$!

keyupdates() { grep -c KEYUPDATE sclient.err; }
out_size() { stat -c %s reply.bin 2>/dev/null || echo 0; }
# wait_for CMD VALUE: until $(CMD) reaches VALUE, at most 60 s; 0 if so.
wait_for() {
	j=0
	while [ "$($1)" -lt "$2" ] && [ $j -lt 600 ]; do
		j=$((j + 1))
		sleep 0.1
	done
	[ "$($1)" -ge "$2" ]
}
# A body's sha: the r-th response (from 0) of header h and body size2.
body_sha() {
	tail -c +$(($1 * ($2 + size2) + $2 + 1)) reply.bin | head -c "$size2" |
		sha256sum | cut -d' ' -f1
}

# sclient_ku LABEL s_client-args...: ROUNDS keep-alive GETs of part.bin;
# in each, once the response is coming, K (even rounds) or k.
sclient_ku() {
	label=$1
	shift
	rm -f in reply.bin sclient.err
	mkfifo in
	b_rx=$(stat_of KtlsRxKeyUpdateAuto)
	b_ans=$(stat_of KtlsKeyUpdateAnswered)
	b_tx=$(stat_of KtlsTxKeyUpdateAuto)
	b_user=$(($(stat_of TlsRxRekeyOk) + $(stat_of TlsTxRekeyOk)))
	# -no_ign_eof after -quiet: the K/k commands work, stdout is the data.
	openssl s_client -connect "127.0.0.1:$PORT2" -quiet -no_ign_eof \
		"$@" <in >reply.bin 2>sclient.err &
	sc=$!
	exec 3>in
	r=0 req=0 hdr=0 fail=
	while [ $r -lt $ROUNDS ] && [ -z "$fail" ]; do
		before=$(out_size)
		printf 'GET /part.bin HTTP/1.1\r\nHost: x\r\n\r\n' >&3
		wait_for out_size $((before + 1)) || fail="no response $r"
		if [ $((r % 2)) -eq 0 ]; then
			echo K >&3
			req=$((req + 1))
		else
			echo k >&3
		fi
		wait_for keyupdates $((r + 1)) || fail="no KEYUPDATE $r"
		if [ $r -eq 0 ]; then
			# The first response sets the header length.
			wait_for out_size "$size2" || fail="short response 0"
			last=-1
			while [ "$(out_size)" != "$last" ]; do
				last=$(out_size)
				sleep 0.5
			done
			hdr=$((last - size2))
		else
			wait_for out_size $(((r + 1) * (hdr + size2))) ||
				fail="short response $r"
		fi
		r=$((r + 1))
	done
	sleep 0.5
	exec 3>&-	# EOF: s_client sends close_notify and exits
	wait "$sc"
	total=$(keyupdates)
	rx=$(($(stat_of KtlsRxKeyUpdateAuto) - b_rx))
	ans=$(($(stat_of KtlsKeyUpdateAnswered) - b_ans))
	tx=$(($(stat_of KtlsTxKeyUpdateAuto) - b_tx))
	user=$(($(stat_of TlsRxRekeyOk) + $(stat_of TlsTxRekeyOk) - b_user))
	r=0
	while [ $r -lt $ROUNDS ] && [ -z "$fail" ]; do
		[ "$(body_sha $r "$hdr")" = "$want2" ] || fail="body $r differs"
		r=$((r + 1))
	done
	[ "$(out_size)" -eq $((ROUNDS * (hdr + size2))) ] ||
		fail="${fail:-$(out_size) bytes, not $ROUNDS x ($hdr + $size2)}"
	diag "$label: s_client sent $total KeyUpdates ($req K); kernel followed $rx, answered $ans, sent $tx; userspace rekeys $user"
	if [ -z "$fail" ] && head -c 12 reply.bin | grep -q '^HTTP/1.1 200' &&
	   [ "$total" -eq "$ROUNDS" ] && [ "$rx" -eq "$total" ] &&
	   [ "$ans" -eq "$req" ] && [ "$tx" -eq "$req" ] &&
	   [ "$user" -eq 0 ] && [ "$(stat_of KtlsKeyUpdateFail)" -eq 0 ] &&
	   [ "$(stat_of KtlsKeyUpdateUnanswered)" -eq 0 ] &&
	   ! grep -qi "error\|fail" serve2.log; then
		ok "s_client_K_k_$label"
	else
		not_ok "s_client_K_k_$label"
		diag "${fail:-counters}"
		head -c 200 reply.bin | od -c | head -n 3
		tail -n 5 sclient.err serve2.log
	fi
}
sclient_ku tls13_aes128gcm -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
sclient_ku tls13_aes256gcm -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384

kill "$srv"
wait "$srv" 2>/dev/null
cd / && rm -rf "$W"
exit $failed
