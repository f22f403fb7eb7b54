#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ktls-get (issue 17): verifies the server's certificate by default (system
# CA store, --ca FILE added, host name or IP checked), --insecure opts out;
# --fallback without the ULP goes on in userspace TLS, reason reported;
# --trace walks through the handshake with the record counts that set the
# kernel's sequence numbers.
# Peer: openssl s_server -WWW.  KTAP output.
B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
W=$(mktemp -d /tmp/getv.XXXXXX)
PORT=9556
n=0
failed=0

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

echo "KTAP version 1"
echo "# suite: ktls-get-verify"
echo "1..9"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir www
dd if=/dev/urandom of=www/f.bin bs=1k count=300 2>/dev/null
sha() { sha256sum "$1" | cut -d' ' -f1; }
want=$(sha www/f.bin)
# Self-signed, for 127.0.0.1; and one for another name only.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=ktls-test -addext subjectAltName=IP:127.0.0.1 -days 1 \
	-keyout k.pem -out c.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=other.example -addext subjectAltName=DNS:other.example \
	-days 1 -keyout k2.pem -out c2.pem 2>/dev/null

serve() {
	(cd www && exec openssl s_server -accept $PORT -cert "../$1" \
		-key "../$2" -WWW) >s_server.log 2>&1 &
	ss=$!
	i=0
	while ! netstat -ltn 2>/dev/null | grep -q ":$PORT " && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
}
stop() { kill $ss 2>/dev/null; wait $ss 2>/dev/null; }

# get LABEL EXPECT(ok|fail) GREP -- ktls-get args
get() {
	label=$1 expect=$2 pattern=$3
	shift 4
	rm -f got.bin
	"$B/ktls-get" -o got.bin "$@" "https://127.0.0.1:$PORT/f.bin" \
		>get.out 2>&1
	rc=$?
	if [ "$expect" = ok ]; then
		[ $rc -eq 0 ] && [ "$(sha got.bin)" = "$want" ]
	else
		[ $rc -ne 0 ] && [ ! -s got.bin ]
	fi
	res=$?
	if [ $res -eq 0 ] && { [ -z "$pattern" ] || grep -q "$pattern" get.out; }; then
		ok "$label"
		sed 's/^/# /' get.out
	else
		not_ok "$label"
		diag "exit $rc, want $expect and \"$pattern\""
		sed 's/^/# /' get.out
	fi
}

serve c.pem k.pem
get refuses_self_signed fail "not trusted" --
get insecure_downloads ok "kernel TLS RX" -- --insecure
get ca_file_trusted ok "kernel TLS RX" -- --ca c.pem
get fallback_without_ulp ok "userspace TLS instead: kernel TLS unavailable" -- \
	--ca c.pem --ulp ktls-none --fallback
get no_fallback_without_flag fail "is not registered" -- --ca c.pem \
	--ulp ktls-none
# The walkthrough, the records OpenSSL counted, the rec_seq they gave.
get trace_shows_record_counts ok "records: after our Finished OpenSSL sent" \
	-- --ca c.pem --trace
missing=""
for l in ClientHello ServerHello "key exchange group" HKDF-Expand-Label \
	"rec_seq TX [0-9]* RX [0-9]*" "handed to the kernel"; do
	grep -q "$l" get.out || missing="$missing \"$l\""
done
if [ -z "$missing" ]; then ok trace_has_walkthrough; else
	not_ok trace_has_walkthrough
	diag "--trace lacks$missing"
fi
stop
serve c2.pem k2.pem
get refuses_wrong_name fail "not trusted" -- --ca c2.pem
get insecure_ignores_name ok "" -- --insecure
stop
cd / && rm -rf "$W"
exit $failed
