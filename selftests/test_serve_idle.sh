#!/bin/sh
# SPDX-License-Identifier: MIT
# ktls-serve: what an idle connection costs (issue 16: <= nginx per idle
# connection), in the VM, KTAP.  Server RSS (its own SIGUSR1 stats line) and
# kernel slab (/proc/meminfo, both ends of the loopback connections) per
# connection, for N TLS keep-alive connections idle after one request and
# for N TCP connections that never send a ClientHello.
# $KTLS_IDLE_CONNS sets N (default 500).

B=${KTLS_BIN:-/ktls/bin}
ULP=${KTLS_ULP:-tls}
S=${KTLS_TIME_SCALE:-1}
N=${KTLS_IDLE_CONNS:-500}
W=$(mktemp -d /tmp/serveidle.XXXXXX)
PORT=9461
n=0
failed=0

check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

echo "KTAP version 1"
echo "# suite: ktls-serve-idle"
echo "1..4"
need_ktls || { echo "# cannot load ktls with ulp_name=$ULP"; exit 1; }
cd "$W" || exit 1
mkdir -p www
head -c 1024 /dev/urandom >www/1k.bin

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
# "stats: C connections, T threads, F fds, rss R kB, ..."
conns() { echo "$1" | awk '{ print $2 }'; }
rss() { echo "$1" | sed -n 's/.*rss \([0-9]*\) kB.*/\1/p'; }
slab() { sed -n 's/^Slab: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
# wait_conns C: until the server counts C connections (or 60 s).
wait_conns() {
	i=0
	while [ "$(conns "$(stats)")" -lt "$1" ] && [ $i -lt $((120 * S)) ]; do
		sleep 0.5
		i=$((i + 1))
	done
}
# per BEFORE AFTER: bytes per connection from two kB figures.
per() { echo $((($2 - $1) * 1024 / N)); }

# A fresh server per phase: memory freed by one phase would be reused by
# the next and hide what it costs.
# start_server [-t /1k.bin]: the warm-up connections like the phase's.
start_server() {
	# Its own port and log: the last server's connections may still
	# hold the port, and its log says "listening" until the new one
	# truncates it.
	PORT=$((PORT + 1))
	rm -f serve.log
	"$B/ktls-serve" -l 127.0.0.1 -p "$PORT" --max-conns $((N * 2 + 100)) \
		--max-per-ip 0 --handshake-timeout $((120 * S)) \
		--idle-timeout $((300 * S)) --access-log /dev/null www >serve.log 2>&1 &
	srv=$!
	i=0
	while ! grep -q listening serve.log 2>/dev/null && [ $i -lt $((100 * S)) ]; do
		i=$((i + 1))
		sleep 0.1
	done
	grep -q listening serve.log || { sed 's/^/# /' serve.log; exit 1; }
	# Warm up (the allocator's arenas, the file in the page cache), so
	# the figures are what one more connection costs.
	"$B/hold_conns" "$@" 127.0.0.1 "$PORT" 20 1 >/dev/null
	i=0
	while [ "$(conns "$(stats)")" -gt 0 ] && [ $i -lt $((60 * S)) ]; do
		sleep 0.5
		i=$((i + 1))
	done
}
stop_server() {
	kill -TERM "$srv"
	wait "$srv"
}

start_server -t /1k.bin
s0=$(stats)
k0=$(slab)

# N TLS connections, one request each, then idle keep-alive.
# shellcheck disable=SC3045
(ulimit -n $((N + 100)) && exec "$B/hold_conns" -t /1k.bin 127.0.0.1 "$PORT" \
	"$N" $((600 * S))) >hold.out 2>&1 &
h=$!
i=0
while ! grep -q held hold.out && kill -0 $h 2>/dev/null && [ $i -lt $((600 * S)) ]; do
	sleep 1
	i=$((i + 1))
done
wait_conns "$N"
s1=$(stats)
k1=$(slab)
tls_rss=$(per "$(rss "$s0")" "$(rss "$s1")")
tls_slab=$(per "$k0" "$k1")
diag "$(cat hold.out)"
diag "before: $s0"
diag "with $N idle TLS: $s1"
diag "idle TLS keep-alive: server RSS $tls_rss B/connection, kernel slab $tls_slab B/connection (both ends)"
check idle_tls_all_held [ "$(conns "$s1")" -ge "$N" ]
# The request buffers (~12.5 KB) and the SSL object are gone once idle;
# what stays is struct conn with its session (~1.5 KB) and malloc's share.
check idle_tls_rss_per_conn [ "$tls_rss" -le 4096 ]
kill $h 2>/dev/null
wait $h 2>/dev/null
stop_server

# N TCP connections that never send a byte: no TLS state yet.
start_server
s2=$(stats)
k2=$(slab)
# shellcheck disable=SC3045
(ulimit -n $((N + 100)) && exec "$B/hold_conns" 127.0.0.1 "$PORT" "$N" $((600 * S))) &
h=$!
wait_conns "$N"
s3=$(stats)
k3=$(slab)
tcp_rss=$(per "$(rss "$s2")" "$(rss "$s3")")
tcp_slab=$(per "$k2" "$k3")
diag "with $N silent TCP: $s3"
diag "silent TCP before the ClientHello: server RSS $tcp_rss B/connection, kernel slab $tcp_slab B/connection (both ends)"
check idle_tcp_all_held [ "$(conns "$s3")" -ge "$N" ]
check idle_tcp_rss_per_conn [ "$tcp_rss" -le 4096 ]
kill $h 2>/dev/null
wait $h 2>/dev/null
stop_server
cd /
rm -rf "$W"
exit $failed
