# Join the bench's "run" lines (guest output) with the plugin's
# "ktls-count SEQ N" lines (QEMU -D log) by marker sequence number and
# print the table: median MB/s and median guest instructions per MiB for
# each row, ratios ktls/in-tree and ktls/userspace.  The MB/s ratios are
# the median of per-repetition ratios: runs of one repetition follow each
# other, so they share the host's speed of the moment, which drifts by
# 20 % and more over seconds under TCG.  "won" counts the repetitions in
# which ktls was faster than in-tree.
#   awk -v title=... -f report.awk RESULTS_LOG PLUGIN_LOG
# RESULTS_LOG lines: run ROW IMPL VER CIPHER rep=R bytes=N ns=T mark=M

function kv(s, key,    i, n, a) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], key "=") == 1)
			return substr(a[i], length(key) + 2)
	return ""
}

# Median of the space-separated numbers in s ("" if none).
function median(s,    n, a, i, j, t) {
	n = split(s, a, " ")
	if (!n)
		return ""
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

# Median over the repetitions of key of a's MB/s over b's; wins[key, a, b]
# gets "W/N", the repetitions a was faster in.
function pratio(key, a, b,    r, s, w, n) {
	s = ""; w = 0; n = 0
	for (r = 0; r < nrep[key]; r++) {
		if (!((key, a, r) in rmb) || !((key, b, r) in rmb) || !rmb[key, b, r])
			continue
		s = s " " rmb[key, a, r] / rmb[key, b, r]
		w += rmb[key, a, r] > rmb[key, b, r]
		n++
	}
	wins[key, a, b] = n ? w "/" n : "-"
	return median(s)
}

function fmt(v, f) { return v == "" ? "-" : sprintf(f, v) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }

FNR == 1 { file++ }
file == 1 { sub(/\r$/, "") }
file == 1 && $1 == "run" && $0 !~ / error=/ {
	key = $2 " " $4 " " $5
	if (!(key in seen)) {
		seen[key] = 1
		order[++nkeys] = key
	}
	bytes = kv($0, "bytes"); ns = kv($0, "ns")
	mb[key, $3] = mb[key, $3] " " (bytes / 1048576) / (ns / 1e9)
	rmb[key, $3, kv($0, "rep")] = (bytes / 1048576) / (ns / 1e9)
	if (kv($0, "rep") + 1 > nrep[key])
		nrep[key] = kv($0, "rep") + 1
	mark[kv($0, "mark")] = key SUBSEP $3
	mib[kv($0, "mark")] = bytes / 1048576
	next
}
file == 1 && ($1 == "fail" || ($1 == "run" && / error=/)) { fails[++nfail] = $0; next }
file == 2 && $1 == "ktls-count" && $2 ~ /^[0-9]+$/ {
	if ($2 in mark)
		ins[mark[$2]] = ins[mark[$2]] " " ($3 / mib[$2]) / 1e6
	counted++
	next
}
END {
	if (title != "")
		print title
	printf "%-12s %-5s %-9s | %-23s | %-23s | %-17s | %-11s\n",
		"row", "tls", "cipher", "MB/s (wall clock)", "Minsn/MiB (plugin)",
		"ktls/intree", "ktls/user"
	printf "%-12s %-5s %-9s | %7s %7s %7s | %7s %7s %7s | %5s %5s %5s | %5s %5s\n",
		"", "", "", "ktls", "intree", "user", "ktls", "intree", "user",
		"MB/s", "won", "insn", "MB/s", "insn"
	for (i = 1; i <= nkeys; i++) {
		key = order[i]
		split(key, k, " ")
		for (j = 1; j <= 4; j++) {
			im = j == 1 ? "ktls" : j == 2 ? "intree" : j == 3 ? "user" : "plain"
			m[im] = median(mb[key, im])
			n[im] = median(ins[key SUBSEP im])
		}
		# Plain TCP has no cipher: its numbers go in the "user" column.
		if (k[2] == "-") {
			m["user"] = m["plain"]; n["user"] = n["plain"]
			k[3] = "plain TCP"
		}
		pi = pratio(key, "ktls", "intree")
		pu = pratio(key, "ktls", "user")
		printf "%-12s %-5s %-9s | %7s %7s %7s | %7s %7s %7s | %5s %5s %5s | %5s %5s\n",
			k[1], k[2] == "tls12" ? "1.2" : k[2] == "tls13" ? "1.3" : "-", k[3],
			fmt(m["ktls"], "%.1f"), fmt(m["intree"], "%.1f"), fmt(m["user"], "%.1f"),
			fmt(n["ktls"], "%.2f"), fmt(n["intree"], "%.2f"), fmt(n["user"], "%.2f"),
			fmt(pi, "%.2f"), wins[key, "ktls", "intree"],
			ratio(n["ktls"], n["intree"]),
			fmt(pu, "%.2f"), ratio(n["ktls"], n["user"])
	}
	if (!counted)
		print "(no instruction counts: plugin log empty)"
	for (i = 1; i <= nfail; i++)
		print "  " fails[i]
}
