#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# TLS session resumption against ktls-serve (issue 17): openssl s_client
# saves the session (-sess_out) and resumes it (-sess_in), TLS 1.3 with the
# server's tickets and TLS 1.2; curl resumes within one run.  Each download
# is byte-exact after the handover, and ktls-serve's --trace shows the
# resumption and the record counts that set the sequence numbers.
B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
S=${KTLS_TIME_SCALE:-1}
W=$(mktemp -d /tmp/resume.XXXXXX)
PORT=9445
n=0
failed=0

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

echo "KTAP version 1"
echo "# suite: ktls-resume"
echo "1..5"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir www
dd if=/dev/urandom of=www/f.bin bs=1k count=700 2>/dev/null
size=$(stat -c %s www/f.bin)
sha() { sha256sum "$1" | cut -d' ' -f1; }
want=$(sha www/f.bin)

"$B/ktls-serve" -l 127.0.0.1 -p "$PORT" --trace --handshake-timeout \
	$((20 * S)) www >serve.log 2>&1 &
srv=$!
i=0
while ! grep -q listening serve.log 2>/dev/null && [ $i -lt $((100 * S)) ]; do
	i=$((i + 1))
	sleep 0.1
done
grep -q listening serve.log || { cat serve.log; exit 1; }

# One s_client download; the reply's body must be f.bin.  $1: label.
sclient() {
	sl=$1
	shift
	printf 'GET /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		openssl s_client -connect "127.0.0.1:$PORT" -quiet -ign_eof \
			"$@" >"$sl.reply" 2>"$sl.err"
	tail -c "$size" "$sl.reply" >"$sl.bin"
	head -c 12 "$sl.reply" | grep -q '^HTTP/1.1 200' &&
		[ "$(sha "$sl.bin")" = "$want" ]
}

# The server's trace of its last connection: lines tagged like its last
# "session" line.
last_conn() {
	tag=$(grep 'session \(new\|resumed\)' serve.log | tail -n 1 |
		sed 's/\].*/]/')
	grep -F "$tag" serve.log
}

# $1 label, $2 "-tls1_3" or "-tls1_2", $3 rec_seq line wanted.
resume() {
	label=$1 ver=$2 seq=$3
	rm -f "$label.sess"
	if ! sclient "${label}_first" "$ver" -sess_out "$label.sess" ||
	   [ ! -s "$label.sess" ]; then
		not_ok "$label"
		diag "first download or -sess_out failed"
		tail -n 5 "${label}_first.err" serve.log
		return
	fi
	last_conn | grep -q 'session new' || diag "first: not a full handshake?"
	if ! sclient "${label}_again" "$ver" -sess_in "$label.sess"; then
		not_ok "$label"
		diag "resumed download not byte-exact"
		tail -n 5 "${label}_again.err" serve.log
		return
	fi
	last_conn >"$label.trace"
	if grep -q 'session resumed' "$label.trace" &&
	   grep -q "$seq" "$label.trace"; then
		ok "$label"
		grep -E 'records:|rec_seq' "$label.trace" | sed 's/^/# /'
	else
		not_ok "$label"
		diag "the server's trace lacks the resumption or \"$seq\":"
		sed 's/^/# /' "$label.trace"
	fi
}

# OpenSSL sends one ticket after a resumption (two after a full
# handshake): the count, not an assumption, sets rec_seq.
resume s_client_tls13_resumed -tls1_3 'rec_seq TX 1 RX 0'
resume s_client_tls12_resumed -tls1_2 'rec_seq TX 1 RX 1'

# Tickets on (OpenSSL's default of 2): a full TLS 1.3 handshake counts them.
if grep -q 'after our Finished OpenSSL sent 2 record(s)' serve.log; then
	ok tls13_tickets_counted
else
	not_ok tls13_tickets_counted
fi

# curl: two downloads in one run, new connections (Connection: close); the
# second resumes the first's session.
curl_resume() {
	label=$1
	shift
	before=$(grep -c 'session resumed' serve.log)
	if curl -sSk --http1.1 -H 'Connection: close' "$@" \
		"https://127.0.0.1:$PORT/f.bin" -o "$label.1" \
		"https://127.0.0.1:$PORT/f.bin" -o "$label.2" 2>"$label.err" &&
	   [ "$(sha "$label.1")" = "$want" ] &&
	   [ "$(sha "$label.2")" = "$want" ] &&
	   [ "$(grep -c 'session resumed' serve.log)" -gt "$before" ]; then
		ok "$label"
	else
		not_ok "$label"
		cat "$label.err"
		grep 'session' serve.log | tail -n 4 | sed 's/^/# /'
	fi
}
curl_resume curl_tls13_resumed --tlsv1.3
curl_resume curl_tls12_resumed --tlsv1.2 --tls-max 1.2

kill "$srv"
wait "$srv" 2>/dev/null
cd / && rm -rf "$W"
exit $failed
