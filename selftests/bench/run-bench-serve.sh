#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench-serve`: ktls-serve against Debian's nginx in one VM per kernel
# (QEMU TCG, thread=single, 2 vCPUs: server on vCPU 1, wrk on vCPU 0; the
# plugin counts instructions per vCPU in each run's window), both servers
# over kernel TLS (our ktls.ko as "tls").  Rows: 1 KiB, 100 KiB and 64 MiB
# files over 100 keep-alive connections; a new TLS connection per request;
# idle TLS connections (server RSS and kernel slab per connection).
# (The issue asks for 100 keep-alive connections; see BSERVE_CONNS.)
#
#   bash selftests/bench/run-bench-serve.sh [SERIES...]  (default $KERNELS or "6.12")
#
# Environment: BSERVE_SECS (per run, default 10; 64 MiB runs twice as
# long), BSERVE_REPS (default 3), BSERVE_IDLE (idle connections, default
# 2000), BSERVE_CONNS (keep-alive connections, default 10: under TCG 100
# handshakes outlast a run), BSERVE_ROWS (idle,1k,100k,64m,handshake),
# BSERVE_FIRST (nginx: it runs first in odd repetitions and the idle row),
# KTLS_VM_TIMEOUT, BENCH_OUT.
# BSERVE_PROFILE=1 (make bench-serve-profile) also profiles: the plugin
# writes <logs>/prof/prof-<seq>.txt per window, counting the server's vCPU
# only (profcpu=1); the guest boots with nokaslr and prints its kernel
# symbols and both servers' memory maps; profile-serve.py tabulates.
# nginx and wrk come from Debian (make bench-serve installs them with
# deps.sh) and go into the initramfs with their shared libraries.
# Output: the table on stdout and in .cache/bench/serve-<UTC time>.txt.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$BENCH_DIR/../vm/lib.sh"

if [[ $# -gt 0 ]]; then KERNELS="$*"; else KERNELS="${KERNELS:-6.12}"; fi
need_cmd qemu-system-x86_64 busybox cpio depmod make gcc awk nginx wrk openssl curl

out="${BENCH_OUT:-$KTLS_CACHE/bench}"
mkdir -p "$out"
log "bench-serve: building plugin, mark, ktls-serve, hold_conns [$(elapsed)]"
{
	make -C "$BENCH_DIR" &&
	# Linked as make install and the .deb link it: against the shared
	# libssl/libcrypto nginx uses too (the VM copies them).
	make -C "$KTLS_REPO/userspace" B=build/dyn LDFLAGS=-pthread build/dyn/ktls-serve &&
	make -C "$KTLS_REPO/selftests" build/hold_conns
} >"$out/serve-build.log" 2>&1 || {
	tail -n 30 "$out/serve-build.log" >&2
	die "build failed (log: $out/serve-build.log)"
}
plugin="$BENCH_DIR/build/libcount.so"
wrap="$out/qemu-wrap-serve"
mkdir -p "$wrap"
real_qemu=$(command -v qemu-system-x86_64)
cat >"$wrap/qemu-system-x86_64" <<WRAP
#!/bin/sh
exec "$real_qemu" -plugin "$plugin,percpu=1\${BENCH_PLUGIN_ARGS:-}" -d plugin -D "\$BENCH_PLUGIN_LOG" "\$@"
WRAP
chmod +x "$wrap/qemu-system-x86_64"

stamp=$(date -u +%Y%m%d-%H%M)
table="$out/serve-$stamp.txt"
{
	echo "ktls-serve vs nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') $(date -u '+%Y-%m-%d %H:%M UTC'), host $(nproc) CPUs;" \
		"QEMU TCG thread=single, 2 vCPUs (server vCPU 1, wrk vCPU 0); source" \
		"$(git -C "$KTLS_REPO" describe --always --dirty 2>/dev/null || echo '?')"
	echo "TLS 1.3 AES-128-GCM, ECDSA P-256, both over ktls.ko as \"tls\"; medians of" \
		"${BSERVE_REPS:-3} interleaved runs of ${BSERVE_SECS:-10} s (64 MiB: twice that)"
	echo "ki/req, Mi/MiB: server vCPU instructions (kernel + user) per request" \
		"(thousands) and per MiB of body (millions); wrk's own work is on vCPU 0"
} >"$table"

status=0
for series in $KERNELS; do
	rel=$(bash "$KTLS_VM_DIR/kernels.sh" release "$series")
	logs="$out/$rel-serve"
	mkdir -p "$logs"
	tree=$(bash "$KTLS_VM_DIR/kernels.sh" fetch "$rel")
	hdr=$(bash "$KTLS_VM_DIR/kernels.sh" headers "$rel")
	log "[$series] building ktls.ko for $rel [$(elapsed)]"
	bdir=$(build_module "$rel" "$hdr" "$logs/build.log") ||
		die "module build failed (log: $logs/build.log)"
	initrd="$KTLS_CACHE/initramfs/$rel-bench-serve.cpio.gz"
	bash "$KTLS_VM_DIR/mkinitramfs.sh" --release "$rel" --tree "$tree" \
		--out "$initrd" --guest "$BENCH_DIR/bench-serve-guest.sh" \
		--ko "$bdir/kmod/ktls.ko" --bin "$BENCH_DIR/build/mark" \
		--bin "$KTLS_REPO/userspace/build/dyn/ktls-serve" \
		--bin "$KTLS_REPO/selftests/build/hold_conns" \
		--host-bin openssl --host-bin curl --host-bin nginx --host-bin wrk
	append="bserve.secs=${BSERVE_SECS:-10} bserve.reps=${BSERVE_REPS:-3} bserve.idle=${BSERVE_IDLE:-2000} bserve.conns=${BSERVE_CONNS:-10}"
	[[ -z "${BSERVE_ROWS:-}" ]] || append+=" bserve.rows=$BSERVE_ROWS"
	[[ -z "${BSERVE_FIRST:-}" ]] || append+=" bserve.first=$BSERVE_FIRST"
	plugin_args=""
	if [[ "${BSERVE_PROFILE:-0}" == 1 ]]; then
		# The plugin's argument list is comma-separated.
		[[ "$logs" != *,* ]] || die "profile directory $logs has a comma"
		rm -rf "$logs/prof"
		mkdir -p "$logs/prof"
		plugin_args=",prof=$logs/prof,profcpu=1"
		append+=" nokaslr bserve.ksyms=1"
	fi
	log "[$series] booting $rel for bench-serve [$(elapsed)]"
	set +e
	BENCH_PLUGIN_LOG="$logs/plugin.log" BENCH_PLUGIN_ARGS="$plugin_args" \
		PATH="$wrap:$PATH" \
		KTLS_QEMU_ACCEL=tcg,thread=single \
		bash "$KTLS_VM_DIR/run-vm.sh" --kernel "$tree/boot/vmlinuz-$rel" \
		--initrd "$initrd" --log "$logs/console.log" \
		--results "$logs/results.log" --timeout "${KTLS_VM_TIMEOUT:-3600}" \
		--append "$append"
	vmrc=$?
	set -e
	[[ $vmrc -eq 0 ]] || status=1
	{
		echo
		awk -v title="== kernel $rel (VM rc=$vmrc; logs ${logs#"$KTLS_REPO"/})" \
			-f "$BENCH_DIR/report-serve.awk" "$logs/results.log" "$logs/plugin.log"
	} >>"$table"
	log "[$series] done (VM rc=$vmrc) [$(elapsed)]"
done
ln -sf "$(basename "$table")" "$out/serve-latest.txt"
echo
cat "$table"
echo
echo "table written to $table"
exit $status
