# SPDX-License-Identifier: GPL-2.0
# make bench-serve's table: "bserve seq=S row=R impl=I rep=N ..." lines of
# the guest (file 1) joined with the plugin's "ktls-count S N ... vcpu1=X"
# lines (file 2) by window sequence number.  Medians over repetitions; the
# req/s ratio is the median of ktls-serve/nginx within one repetition.

function kv(line, key,    i, n, f) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++)
		if (index(f[i], key "=") == 1)
			return substr(f[i], length(key) + 2)
	return ""
}
# wrk's "12.34MB" (1024-based units) in bytes.
function bytes(s,    v, u) {
	v = s + 0
	u = s
	sub(/^[0-9.]+/, "", u)
	if (u == "KB") v *= 1024
	else if (u == "MB") v *= 1024 * 1024
	else if (u == "GB") v *= 1024 * 1024 * 1024
	return v
}
function median(arr, n,    i, j, t, a) {
	if (n == 0)
		return -1
	for (i = 1; i <= n; i++)
		a[i] = arr[i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == 1 { file++ }
file == 1 { sub(/\r$/, "") }
file == 1 && $1 == "bserve" {
	s = kv($0, "seq")
	line[s] = $0
	nseq = s > nseq ? s : nseq
	next
}
# (profile runs: ksym and maps lines are for profile-serve.py)
file == 1 && /^# (ksym|maps) / { next }
file == 1 && /^# / { notes = notes $0 "\n"; next }
file == 2 && $1 == "ktls-count" && $2 ~ /^[0-9]+$/ {
	srv[$2] = kv($0, "vcpu1")
	cli[$2] = kv($0, "vcpu0")
}
END {
	print title
	for (s = 1; s <= nseq; s++) {
		l = line[s]
		if (l == "")
			continue
		row = kv(l, "row"); impl = kv(l, "impl"); rep = kv(l, "rep")
		k = row SUBSEP impl
		if (!(row in seen)) { rows[++nrows] = row; seen[row] = 1 }
		if (row == "idle") {
			c = kv(l, "conns")
			idle_rss[impl] = (kv(l, "rss1") - kv(l, "rss0")) * 1024 / c
			idle_slab[impl] = (kv(l, "slab1") - kv(l, "slab0")) * 1024 / c
			idle_n[impl] = c
			continue
		}
		r = kv(l, "reqs"); t = kv(l, "secs"); b = bytes(kv(l, "read"))
		sub(/s$/, "", t)
		if (t <= 0)
			continue
		n = ++cnt[k]
		rps[k, n] = r / t
		mbs[k, n] = b / t / 1e6
		# No plugin (a real host): no instruction counts, shown as -1.
		kireq[k, n] = r > 0 && srv[s] != "" ? srv[s] / r / 1e3 : -1
		mimib[k, n] = b > 0 && srv[s] != "" ? srv[s] / (b / 1048576) / 1e6 : -1
		run_srv[k, n] = srv[s]; run_req[k, n] = r; run_mib[k, n] = b / 1048576
		# Lines before conns= was printed: the guest's default, 10.
		run_conns[k, n] = kv(l, "conns") != "" ? kv(l, "conns") : 10
		rrps[row, impl, rep] = r / t
		if (kv(l, "sockerr") != "" || kv(l, "non2xx") != "")
			errs[k] = errs[k] " " kv(l, "sockerr") " non2xx=" kv(l, "non2xx")
	}
	# A keep-alive window holds its connections' handshakes too (wrk
	# connects inside it): the * columns take off conns x the handshake
	# row's median per connection, for the steady per-request cost.
	for (j = 1; j <= 2; j++) {
		impl = j == 1 ? "ktls-serve" : "nginx"
		k = "handshake" SUBSEP impl
		delete a3
		for (m = 1; m <= cnt[k]; m++)
			a3[m] = kireq[k, m]
		hs[impl] = cnt[k] ? median(a3, cnt[k]) * 1e3 : -1
	}
	printf "%-10s %-11s %10s %9s %9s %10s %12s %9s %10s\n", "row", "server", "req/s", "MB/s",
		"ki/req", "Mi/MiB", "ratio req/s", "ki/req*", "Mi/MiB*"
	for (i = 1; i <= nrows; i++) {
		row = rows[i]
		if (row == "idle")
			continue
		nr = 0
		for (rep = 1; (row, "ktls-serve", rep) in rrps; rep++)
			if ((row, "nginx", rep) in rrps && rrps[row, "nginx", rep] > 0)
				ratio[++nr] = rrps[row, "ktls-serve", rep] / rrps[row, "nginx", rep]
		for (j = 1; j <= 2; j++) {
			impl = j == 1 ? "ktls-serve" : "nginx"
			k = row SUBSEP impl
			n = cnt[k]
			delete a1; delete a2; delete a3; delete a4; delete a5; delete a6
			for (m = 1; m <= n; m++) {
				a1[m] = rps[k, m]; a2[m] = mbs[k, m]
				a3[m] = kireq[k, m]; a4[m] = mimib[k, m]
				net = run_srv[k, m] - run_conns[k, m] * hs[impl]
				a5[m] = run_req[k, m] > 0 ? net / run_req[k, m] / 1e3 : -1
				a6[m] = run_mib[k, m] > 0 ? net / run_mib[k, m] / 1e6 : -1
			}
			steady = row != "handshake" && hs[impl] > 0 && run_srv[k, 1] != ""
			printf "%-10s %-11s %10.1f %9.2f %9.1f %10.2f %12s %9s %10s%s\n", row, impl,
				median(a1, n), median(a2, n), median(a3, n), median(a4, n),
				j == 1 && nr ? sprintf("%.2f", median(ratio, nr)) : "",
				steady && row != "64m" ? sprintf("%.1f", median(a5, n)) : "",
				steady ? sprintf("%.2f", median(a6, n)) : "",
				errs[k] != "" ? "  errors:" errs[k] : ""
		}
	}
	for (impl in idle_n)
		printf "idle %-11s %d TLS connections: server RSS %.0f B/conn, kernel slab %.0f B/conn (both ends)\n",
			impl, idle_n[impl], idle_rss[impl], idle_slab[impl]
	printf "%s", notes
}
