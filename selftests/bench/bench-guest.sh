#!/bin/sh
# Guest script for `make bench` (busybox sh, runs in the VM as
# /ktls/guest.sh): runs /ktls/bin/bench once, which loads Debian's tls.ko
# and then our ktls.ko with ulp_name=ktls and measures every row.
# Sizes come from the kernel command line (set by run-bench.sh):
#   bench.mb=N bench.send_mb=N bench.reps=N bench.rows=a,b
#   bench.ksyms=1 (profile.sh) prints all kernel and module text symbols
#   at the end, while tls.ko and ktls.ko are still loaded, as "# ksym ADDR
#   t NAME [MODULE]" (Debian's System.map is a stub: the real one is in the
#   -dbg package).
# Its exit status reaches the host as "KTLS-VM-DONE rc=N".

# shellcheck disable=SC2013 # the command line is one line of words
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bench.mb=*) export BENCH_MB="${arg#bench.mb=}" ;;
	bench.send_mb=*) export BENCH_SEND_MB="${arg#bench.send_mb=}" ;;
	bench.reps=*) export BENCH_REPS="${arg#bench.reps=}" ;;
	bench.rows=*) export BENCH_ROWS="${arg#bench.rows=}" ;;
	bench.ksyms=*) ksyms="${arg#bench.ksyms=}" ;;
	esac
done

echo "# bench-guest: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs"
# A real host's udev loads the CPU-specific ciphers at boot (by CPU
# feature modalias); this initramfs has no udev, and request_module() for
# "gcm(aes)" alone can settle on the generic C code (~8x the instructions
# on 6.1).  Load them as a host would.
for m in aesni_intel ghash_clmulni_intel chacha_x86_64 poly1305_x86_64; do
	modprobe "$m" 2>/dev/null || echo "# bench-guest: modprobe $m failed"
done
"${KTLS_BIN:-/ktls/bin}/bench"
rc=$?
echo "# bench-guest: bench rc=$rc"
# The AEAD implementations registered (the highest priority one serves).
awk '/^name/ { n = $3 } /^driver/ && n ~ /^(gcm\(aes\)|rfc7539\(chacha20,poly1305\))$/ {
	print "# bench-guest: crypto " n " -> " $3 }' /proc/crypto
echo "# bench-guest: modules: $(cut -d' ' -f1 /proc/modules | grep -E '^(k?tls)$' | tr '\n' ' ')"
if [ "${ksyms:-0}" = 1 ]; then
	# Root sees real addresses unless kptr_restrict is 2.
	echo 0 >/proc/sys/kernel/kptr_restrict 2>/dev/null
	grep -E '^[0-9a-f]+ [tT] ' /proc/kallsyms | sed 's/^/# ksym /'
fi
exit $rc
