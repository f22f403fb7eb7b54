#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest script for `make bench-serve` (busybox sh, /ktls/guest.sh): ktls-serve
# against Debian's nginx on the same kernel, both over kernel TLS (ktls.ko
# registered as "tls"; nginx with "ssl_conf_command Options KTLS" and
# sendfile), same certificate (ECDSA P-256) and suite (TLS 1.3
# AES-128-GCM).  The server runs on vCPU 1, the load generator (wrk) on
# vCPU 0; each run is a marker window (/ktls/bin/mark) whose instructions
# the plugin counts per vCPU.  Prints one line per run:
#   bserve seq=S row=R impl=I rep=N <wrk figures or memory figures>
# which run-bench-serve.sh joins with the plugin's "ktls-count S" lines.
# On a real host (README): run as root with KTLS_BIN (ktls-serve,
# hold_conns, mark) and KTLS_KO set, ktls.ko as "tls" or tls.ko absent;
# BSERVE_* in the environment set the same knobs.
# Knobs on the kernel command line: bserve.secs=N (per run, default 10),
# bserve.reps=N (default 3), bserve.conns=N (default 10), bserve.idle=N (idle connections, default
# 2000), bserve.rows=a,b (idle,1k,100k,64m,handshake; default all),
# bserve.first=nginx (the other server first), bserve.ksyms=1 (make bench-serve-profile: both servers' memory maps as
# "# maps IMPL LINE" after start, kernel and module text symbols as
# "# ksym ADDR T NAME [MOD]" at the end).

SECS=${BSERVE_SECS:-10} REPS=${BSERVE_REPS:-3} IDLE=${BSERVE_IDLE:-2000}
# Keep-alive connections per run.  Under TCG 100 TLS handshakes take
# longer than a run (wrk then counts 0 requests): 10 there, 100 on a
# real host.
CONNS=${BSERVE_CONNS:-10}
# idle first: on fresh servers (memory the other rows freed would be
# reused and hide what an idle connection costs).
ROWS=${BSERVE_ROWS:-idle,1k,100k,64m,handshake}
FIRST=${BSERVE_FIRST:-ktls-serve}
# shellcheck disable=SC2013 # the command line is one line of words
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bserve.secs=*) SECS=${arg#bserve.secs=} ;;
	bserve.reps=*) REPS=${arg#bserve.reps=} ;;
	bserve.idle=*) IDLE=${arg#bserve.idle=} ;;
	bserve.rows=*) ROWS=${arg#bserve.rows=} ;;
	bserve.conns=*) CONNS=${arg#bserve.conns=} ;;
	bserve.ksyms=*) KSYMS=${arg#bserve.ksyms=} ;;
	bserve.first=*) FIRST=${arg#bserve.first=} ;;
	esac
done
# Which server runs first in odd repetitions.  The idle row runs once, and
# the second server's connections reuse slab the first one's freed (with
# 10,000 connections it is not back within seconds): measure each first.
if [ "$FIRST" = nginx ]; then SECOND=ktls-serve; else FIRST=ktls-serve SECOND=nginx; fi
B=${KTLS_BIN:-/ktls/bin}
W=/tmp/bserve
KPORT=8443 NPORT=8444
seq=0

echo "# bench-serve-guest: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs"
# What a real host's udev loads at boot for its CPU (busybox has no udev):
# AES-GCM for both servers, SHA-2 for the kernel's HKDF (ktls's KeyUpdate).
for m in aesni_intel ghash_clmulni_intel sha256_ssse3 sha512_ssse3; do
	modprobe "$m" 2>/dev/null || echo "# bench-serve-guest: modprobe $m failed"
done
if [ "$(cat /sys/module/ktls/parameters/ulp_name 2>/dev/null)" != tls ]; then
	insmod "${KTLS_KO:-/ktls/ktls.ko}" ulp_name=tls ||
		{ echo "# insmod ktls.ko ulp_name=tls failed"; exit 1; }
fi

mkdir -p $W/www $W/ng /var/lib/nginx /var/log/nginx
cd $W || exit 1
head -c 1024 /dev/urandom >www/1k.bin
head -c 102400 /dev/urandom >www/100k.bin
dd if=/dev/urandom of=www/64m.bin bs=1M count=64 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=bench -days 1 -keyout key.pem -out cert.pem 2>/dev/null
# shellcheck disable=SC3045 # busybox sh has ulimit -n
ulimit -n 65536

cat >ng/nginx.conf <<NG
daemon off;
master_process off;
worker_processes 1;
error_log $W/ng/error.log notice;
pid $W/ng/nginx.pid;
events { worker_connections 30000; }
http {
	access_log /dev/null;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 600s;
	keepalive_requests 100000000;
	default_type application/octet-stream;
	client_body_temp_path $W/ng/body;
	proxy_temp_path $W/ng/proxy;
	fastcgi_temp_path $W/ng/fastcgi;
	uwsgi_temp_path $W/ng/uwsgi;
	scgi_temp_path $W/ng/scgi;
	server {
		listen 127.0.0.1:$NPORT ssl;
		ssl_certificate $W/cert.pem;
		ssl_certificate_key $W/key.pem;
		ssl_protocols TLSv1.3;
		ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
		ssl_conf_command Options KTLS;
		ssl_session_cache off;
		root $W/www;
	}
}
NG

taskset -c 1 nginx -e stderr -p $W/ng -c $W/ng/nginx.conf >ng/out.log 2>&1 &
npid=$!
taskset -c 1 "$B/ktls-serve" -l 127.0.0.1 -p $KPORT --workers 1 \
	-c cert.pem -k key.pem --min-tls 1.3 \
	--ciphersuites TLS_AES_128_GCM_SHA256 --max-conns 30000 \
	--max-per-ip 0 --idle-timeout 600 --header-timeout 600 \
	--handshake-timeout 600 --access-log /dev/null www >ks.log 2>&1 &
kpid=$!
sleep 3
for p in $KPORT $NPORT; do
	curl -skf --http1.1 -o /dev/null "https://127.0.0.1:$p/1k.bin" ||
		{ echo "# server on port $p does not answer"; cat ks.log ng/out.log ng/error.log; }
done
echo "# bench-serve-guest: ktls-serve pid $kpid, nginx pid $npid ($(nginx -v 2>&1))"
if [ "${KSYMS:-0}" = 1 ]; then
	sed 's/^/# maps ktls-serve /' "/proc/$kpid/maps"
	sed 's/^/# maps nginx /' "/proc/$npid/maps"
fi

port_of() { if [ "$1" = ktls-serve ]; then echo $KPORT; else echo $NPORT; fi; }
pid_of() { if [ "$1" = ktls-serve ]; then echo $kpid; else echo $npid; fi; }
rss_of() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$(pid_of "$1")/status"; }
slab() { sed -n 's/^Slab: *\([0-9]*\) kB/\1/p' /proc/meminfo; }

# run ROW IMPL REP: one wrk run in a marker window.
run_wrk() {
	row=$1 impl=$2 rep=$3 conns=$CONNS file=$1.bin hdr="" secs=$SECS
	[ "$row" = 64m ] && secs=$((SECS * 2))
	if [ "$row" = handshake ]; then
		file=1k.bin hdr="Connection: close" conns=10
	fi
	seq=$((seq + 1))
	"$B/mark" start
	if [ -n "$hdr" ]; then
		taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" -H "$hdr" \
			"https://127.0.0.1:$(port_of "$impl")/$file" >wrk.out 2>&1
	else
		taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" \
			"https://127.0.0.1:$(port_of "$impl")/$file" >wrk.out 2>&1
	fi
	"$B/mark" stop
	# "N requests in T s, X MB read", "Non-2xx ...", "Socket errors: ..."
	echo "bserve seq=$seq row=$row impl=$impl rep=$rep conns=$conns $(awk '
		/requests in/ { gsub(",", ""); printf "reqs=%s secs=%s read=%s ", $1, $4, $5 }
		/Non-2xx/ { printf "non2xx=%s ", $NF }
		/Socket errors/ { gsub(",", ""); printf "sockerr=%s/%s/%s/%s ", $4, $6, $8, $10 }' wrk.out)"
	grep -q ' 0 requests in' wrk.out && sed 's/^/# wrk: /' wrk.out
}

# idle IMPL REP: IDLE TLS connections, one request each, then idle.
run_idle() {
	impl=$1 rep=$2
	sleep 2
	r0=$(rss_of "$impl") k0=$(slab)
	"$B/hold_conns" -t /1k.bin 127.0.0.1 "$(port_of "$impl")" "$IDLE" 3000 >hold.out 2>&1 &
	h=$!
	i=0
	while ! grep -q held hold.out && kill -0 $h 2>/dev/null && [ $i -lt 3000 ]; do
		sleep 1
		i=$((i + 1))
	done
	sleep 3
	r1=$(rss_of "$impl") k1=$(slab)
	# Kernel TLS in use for the held connections (nginx: TX only).
	echo "# idle $impl: $(grep -E '^TlsCurr(Tx|Rx)Sw' /proc/net/ktls_stat 2>/dev/null | tr -s ' \t' '=' | tr '\n' ' ')"
	seq=$((seq + 1))
	"$B/mark" start
	"$B/mark" stop
	grep -q held hold.out || sed 's/^/# hold_conns: /' hold.out
	echo "bserve seq=$seq row=idle impl=$impl rep=$rep conns=$IDLE rss0=$r0 rss1=$r1 slab0=$k0 slab1=$k1 hold=\"$(cat hold.out)\""
	kill $h 2>/dev/null
	wait $h 2>/dev/null
	sleep 5
}

for row in $(echo "$ROWS" | tr ',' ' '); do
	rep=1
	reps=$REPS
	[ "$row" = idle ] && reps=1
	while [ $rep -le "$reps" ]; do
		# Interleaved, the order reversed every other repetition.
		if [ $((rep % 2)) = 1 ]; then order="$FIRST $SECOND"; else order="$SECOND $FIRST"; fi
		for impl in $order; do
			if [ "$row" = idle ]; then run_idle "$impl" "$rep"; else run_wrk "$row" "$impl" "$rep"; fi
		done
		rep=$((rep + 1))
	done
done
echo "# ktls-serve: $(kill -USR1 $kpid; sleep 1; grep '^stats:' ks.log | tail -n 2 | tr '\n' ' ')"
echo "# nginx error log (last lines):"
tail -n 5 ng/error.log | sed 's/^/# /'
[ -r /proc/net/ktls_stat ] && sed 's/^/# ktls_stat /' /proc/net/ktls_stat
if [ "${KSYMS:-0}" = 1 ]; then
	# Root sees real addresses unless kptr_restrict is 2.
	echo 0 >/proc/sys/kernel/kptr_restrict 2>/dev/null
	grep -E '^[0-9a-f]+ [tT] ' /proc/kallsyms | sed 's/^/# ksym /'
fi
kill $kpid $npid
wait
exit 0
