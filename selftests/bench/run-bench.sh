#!/bin/bash
# `make bench`: for each kernel, build ktls.ko, boot one VM (QEMU TCG,
# single-threaded so the instruction counter is exact) with Debian's
# tls.ko, our ktls.ko (ulp_name=ktls), the bench program and the counting
# plugin, then print and save a table: median MB/s and guest instructions
# per MiB for ktls, in-tree kTLS, userspace OpenSSL and plain TCP.
#
#   bash selftests/bench/run-bench.sh [SERIES...]   (default $KERNELS or "6.1 6.12")
#
# Environment (defaults keep a full run for two kernels near 14 minutes on
# an idle 2-core host):
#   BENCH_MB        sendfile file / RX stream size in MiB (default 16)
#   BENCH_SEND_MB   send-16k total in MiB; send-1k a quarter, send-100 a
#                   sixteenth (default 4)
#   BENCH_REPS      measured runs per row and implementation (default 11:
#                   many short interleaved runs, because the host's own
#                   speed drifts by 20 % and more within seconds)
#   BENCH_ROWS      comma list of rows (tx-sendfile,rx,send-16k,send-1k,
#                   send-100; default all)
#   KTLS_VM_TIMEOUT whole-VM limit in seconds (default 2400)
#   BENCH_OUT       output directory (default .cache/bench)
#   BENCH_PROFILE=1 profile too (profile.sh sets it): the plugin writes
#                   <logs>/prof/prof-<seq>.txt per window, the guest boots
#                   with nokaslr (kernel text at its System.map addresses)
#                   and prints its module text symbols ("# ksym ...")
# Output: the table on stdout and in .cache/bench/results-<UTC time>.txt
# (.cache/bench/results-latest.txt points at it); raw logs in
# .cache/bench/<release>/.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$BENCH_DIR/../vm/lib.sh"

if [[ $# -gt 0 ]]; then KERNELS="$*"; else KERNELS="${KERNELS:-6.1 6.12}"; fi
MB="${BENCH_MB:-16}" SEND_MB="${BENCH_SEND_MB:-4}" REPS="${BENCH_REPS:-11}"
ROWS="${BENCH_ROWS:-}" PROFILE="${BENCH_PROFILE:-0}"
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc awk

out="${BENCH_OUT:-$KTLS_CACHE/bench}"
mkdir -p "$out"
log "bench: building bench program and plugin [$(elapsed)]"
make -C "$BENCH_DIR" >"$out/build.log" 2>&1 || {
	tail -n 30 "$out/build.log" >&2
	die "make -C selftests/bench failed (log: $out/build.log)"
}
plugin="$BENCH_DIR/build/libcount.so"

# run-vm.sh starts "qemu-system-x86_64" from PATH: a wrapper first in PATH
# adds the plugin (with BENCH_PLUGIN_ARGS, e.g. ",prof=DIR") and its log,
# everything else stays run-vm.sh's.
wrap="$out/qemu-wrap"
mkdir -p "$wrap"
real_qemu=$(command -v qemu-system-x86_64)
cat >"$wrap/qemu-system-x86_64" <<WRAP
#!/bin/sh
exec "$real_qemu" -plugin "$plugin\${BENCH_PLUGIN_ARGS:-}" -d plugin -D "\$BENCH_PLUGIN_LOG" "\$@"
WRAP
chmod +x "$wrap/qemu-system-x86_64"

stamp=$(date -u +%Y%m%d-%H%M)
table="$out/results-$stamp.txt"
{
	echo "ktls bench $(date -u '+%Y-%m-%d %H:%M UTC'), host $(nproc) CPUs;" \
		"QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}')" \
		"TCG thread=single, -cpu max, 2 vCPUs; module source" \
		"$(git -C "$KTLS_REPO" describe --always --dirty 2>/dev/null || echo '?')"
	echo "sizes: sendfile/rx ${MB} MiB, send-16k ${SEND_MB} MiB," \
		"send-1k $((SEND_MB * 1024 / 4)) KiB, send-100 $((SEND_MB * 1024 / 16)) KiB;" \
		"median of ${REPS} interleaved runs (order reversed every other)"
	echo "Minsn/MiB: guest instructions (all vCPUs, kernel + user, sender +" \
		"receiver) per MiB of plaintext, millions"
	echo "ratio MB/s: median over repetitions of the ratio within one" \
		"repetition; won: repetitions in which ktls was faster than in-tree"
} >"$table"

status=0
for series in $KERNELS; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$series")
	logs="$out/$rel"
	mkdir -p "$logs"
	tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
	hdr=$(bash "$KTLS_VM_DIR/kernels.sh" headers "$rel")
	log "[$series] building ktls.ko for $rel [$(elapsed)]"
	kos=()
	if bdir=$(build_module "$rel" "$hdr" "$logs/build.log"); then
		kos=(--ko "$bdir/kmod/ktls.ko")
	else
		log "[$series] module build failed: benching without ktls rows"
		status=1
	fi
	initrd="$KTLS_CACHE/initramfs/$rel-bench.cpio.gz"
	bash "$KTLS_VM_DIR/mkinitramfs.sh" --release "$rel" --tree "$tree" \
		--out "$initrd" --guest "$BENCH_DIR/bench-guest.sh" \
		--bin "$BENCH_DIR/build/bench" "${kos[@]}"
	append="bench.mb=$MB bench.send_mb=$SEND_MB bench.reps=$REPS"
	[[ -z "$ROWS" ]] || append+=" bench.rows=$ROWS"
	plugin_args=""
	if [[ "$PROFILE" == 1 ]]; then
		# QEMU splits plugin arguments at commas.
		[[ "$logs" != *,* ]] || die "profile directory $logs has a comma"
		rm -rf "$logs/prof"
		mkdir -p "$logs/prof"
		plugin_args=",prof=$logs/prof"
		append+=" nokaslr bench.ksyms=1"
	fi
	log "[$series] booting $rel for the bench [$(elapsed)]"
	set +e
	BENCH_PLUGIN_LOG="$logs/plugin.log" BENCH_PLUGIN_ARGS="$plugin_args" \
		PATH="$wrap:$PATH" \
		KTLS_QEMU_ACCEL=tcg,thread=single \
		bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" \
		--initrd "$initrd" --log "$logs/console.log" \
		--results "$logs/results.log" --timeout "${KTLS_VM_TIMEOUT:-2400}" \
		--append "$append"
	vmrc=$?
	set -e
	[[ $vmrc -eq 0 ]] || status=1
	{
		echo
		awk -v title="== kernel $rel (VM rc=$vmrc; logs ${logs#"$KTLS_REPO"/})" \
			-f "$BENCH_DIR/report.awk" "$logs/results.log" "$logs/plugin.log"
	} >>"$table"
	log "[$series] done (VM rc=$vmrc) [$(elapsed)]"
done

ln -sf "$(basename "$table")" "$out/results-latest.txt"
echo
cat "$table"
echo
echo "table written to $table"
exit $status
