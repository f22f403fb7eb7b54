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
# openssl s_client (unmodified) types K and k while it downloads from a
# server that never rekeys by itself: every KeyUpdate is followed by the
# kernel (KtlsRxKeyUpdateAuto), each K answered (KtlsKeyUpdateAnswered),
# the body is byte-exact, and the server program made no call for it
# (no TlsRxRekeyOk/TlsTxRekeyOk) and logged no error.

B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
W=$(mktemp -d /tmp/rekey.XXXXXX)
PORT=9543
PORT2=9544
MB=8
SC_MB=${KTLS_SC_MIB:-32}
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
echo "1..6"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir www
dd if=/dev/urandom of=www/big.bin bs=1M count="$MB" 2>/dev/null
dd if=/dev/urandom of=www/huge.bin bs=1M count="$SC_MB" 2>/dev/null
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
want2=$(sha www/huge.bin)
size2=$(stat -c %s www/huge.bin)
start_serve serve2.log -p "$PORT2"
srv=$!

# sclient_ku LABEL s_client-args...: K lines while the first third of the
# body arrives, then k lines until two thirds, then nothing.
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
	printf 'GET /huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
	i=0
	while kill -0 "$sc" 2>/dev/null && [ $i -lt 600 ]; do
		got=$(stat -c %s reply.bin 2>/dev/null || echo 0)
		if [ "$got" -lt $((size2 / 3)) ]; then
			echo K >&3
		elif [ "$got" -lt $((size2 * 2 / 3)) ]; then
			[ -z "${req:-}" ] && sleep 0.3 &&
				req=$(grep -c KEYUPDATE sclient.err)
			echo k >&3
		else
			break
		fi
		i=$((i + 1))
		sleep 0.1
	done
	[ -z "${req:-}" ] && sleep 0.3 && req=$(grep -c KEYUPDATE sclient.err)
	# The server closes after the body (Connection: close).
	i=0
	while kill -0 "$sc" 2>/dev/null && [ $i -lt 600 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	exec 3>&-
	wait "$sc"
	total=$(grep -c KEYUPDATE sclient.err)
	rx=$(($(stat_of KtlsRxKeyUpdateAuto) - b_rx))
	ans=$(($(stat_of KtlsKeyUpdateAnswered) - b_ans))
	tx=$(($(stat_of KtlsTxKeyUpdateAuto) - b_tx))
	user=$(($(stat_of TlsRxRekeyOk) + $(stat_of TlsTxRekeyOk) - b_user))
	tail -c "$size2" reply.bin >got.bin
	diag "$label: s_client sent $total KeyUpdates ($req K); kernel followed $rx, answered $ans, sent $tx; userspace rekeys $user"
	if head -c 12 reply.bin | grep -q '^HTTP/1.1 200' &&
	   [ "$(sha got.bin)" = "$want2" ] && [ "$total" -ge 2 ] &&
	   [ "$req" -ge 1 ] && [ "$rx" -eq "$total" ] &&
	   [ "$ans" -eq "$req" ] && [ "$tx" -eq "$req" ] &&
	   [ "$user" -eq 0 ] && [ "$(stat_of KtlsKeyUpdateFail)" -eq 0 ] &&
	   [ "$(stat_of KtlsKeyUpdateUnanswered)" -eq 0 ] &&
	   ! grep -qi "error\|fail" serve2.log; then
		ok "s_client_K_k_$label"
	else
		not_ok "s_client_K_k_$label"
		head -c 200 reply.bin | od -c | head -n 3
		tail -n 5 sclient.err serve2.log
	fi
	unset req
}
sclient_ku tls13_aes128gcm -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
sclient_ku tls13_aes256gcm -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384

kill "$srv"
wait "$srv" 2>/dev/null
cd / && rm -rf "$W"
exit $failed
