#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ktls-serve --rekey-bytes: TLS 1.3 key updates in the middle of a download
# by curl (OpenSSL), byte-exact for every TLS 1.3 cipher; the updates are
# counted in /proc/net/ktls_stat.  TLS 1.2 has none and still works.  KTAP.

B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
W=$(mktemp -d /tmp/rekey.XXXXXX)
PORT=9543
MB=8
REKEY=1000000
n=0
failed=0

# need_ktls(), shared with the other test_*.sh scripts.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/ktls_stat; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

echo "KTAP version 1"
echo "# suite: ktls-serve-rekey"
echo "1..4"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir www
dd if=/dev/urandom of=www/big.bin bs=1M count="$MB" 2>/dev/null
want=$(sha www/big.bin)
size=$(stat -c %s www/big.bin)
updates=$((size / REKEY))

"$B/ktls-serve" -l 127.0.0.1 -p "$PORT" --rekey-bytes "$REKEY" www \
	>serve.log 2>&1 &
srv=$!
i=0
while ! grep -q listening serve.log 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
grep -q listening serve.log || { cat serve.log; exit 1; }

# get LABEL EXPECTED_UPDATES curl-args...
get() {
	label=$1
	exp=$2
	shift 2
	rm -f got.bin
	before=$(stat_of TlsTxRekeyOk)
	if curl -sSk --http1.1 "$@" "https://127.0.0.1:$PORT/big.bin" \
		-o got.bin 2>curl.err && [ "$(sha got.bin)" = "$want" ]; then
		done_=$(($(stat_of TlsTxRekeyOk) - before))
		if [ "$done_" -eq "$exp" ] &&
		   [ "$(stat_of TlsTxRekeyError)" -eq 0 ]; then
			ok "$label"
		else
			not_ok "$label"
			diag "TlsTxRekeyOk moved by $done_, expected $exp"
		fi
	else
		not_ok "$label"
		cat curl.err
		tail -n 5 serve.log
	fi
}
get curl_tls13_aes128gcm "$updates" --tlsv1.3 \
	--tls13-ciphers TLS_AES_128_GCM_SHA256
get curl_tls13_aes256gcm "$updates" --tlsv1.3 \
	--tls13-ciphers TLS_AES_256_GCM_SHA384
get curl_tls13_chacha20 "$updates" --tlsv1.3 \
	--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
get curl_tls12_no_updates 0 --tlsv1.2 --tls-max 1.2 \
	--ciphers ECDHE-ECDSA-AES128-GCM-SHA256

kill "$srv"
wait "$srv" 2>/dev/null
cd / && rm -rf "$W"
exit $failed
