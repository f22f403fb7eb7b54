#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-function instruction profile of one profiled bench boot.

  profile.py --sysmap System.map-REL --logs DIR [--top 25] [--diff-top 20]

DIR is the per-kernel log directory of run-bench.sh with BENCH_PROFILE=1:
results.log ("run ..." and "# ksym ..." lines), plugin.log ("ktls-count SEQ
N") and prof/prof-SEQ.txt ("<hex block vaddr> <instructions>").  Each block
address goes to the greatest text symbol at or below it (the guest's
/proc/kallsyms, printed as "# ksym" lines; System.map if those hold no
kernel symbols); addresses below 0xffff800000000000 are "[user]".  Prints, for every measured run, the top functions in
instructions per MiB of plaintext, then for every (row, TLS version,
cipher) the functions whose cost differs most between ktls and intree.
Full tables go to DIR/profile/.
"""
import argparse
import bisect
import os
import re
import sys

MiB = 1024 * 1024
KERNEL_START = 0xffff800000000000


def read_lines(path):
    with open(path, errors="replace") as f:
        for line in f:
            yield line.rstrip("\r\n").rstrip("\r")


class Symbols:
    """Text symbols: the guest's /proc/kallsyms ("# ksym" lines) for the
    kernel and modules; System.map only when the guest gave no kernel
    symbols (Debian ships a stub System.map, the -dbg package the real
    one), moved by the difference of the guest's _stext if any."""

    def __init__(self, sysmap, ksyms):
        guest = [(a, n) for a, _, n in ksyms]
        stext = dict((n, a) for a, n in guest).get("_stext")
        self.source = "guest /proc/kallsyms"
        self.note = ""
        if not any(not n.endswith("]") for _, n in guest):
            mapped = []
            for line in read_lines(sysmap):
                p = line.split()
                if len(p) >= 3 and p[1] in "TtWw":
                    mapped.append((int(p[0], 16), p[2]))
            if len(mapped) > 1000:
                offset = 0
                mstext = dict((n, a) for a, n in mapped).get("_stext")
                if stext is not None and mstext is not None:
                    offset = stext - mstext
                if offset:
                    self.note = "System.map moved by %#x (KASLR?)" % offset
                guest += [(a + offset, n) for a, n in mapped]
                self.source = "System.map + guest module symbols"
            else:
                self.source = "guest module symbols only"
                self.note = ("no kernel symbols (System.map %s is a stub): "
                             "kernel code is [kernel]" % sysmap)
        # One name per address: a function rather than an end marker,
        # then the alias with the fewest leading underscores.
        best = {}
        for a, n in guest:
            if n in ("_etext", "_einittext"):
                n = "[vmlinux: past %s]" % n
            k = (n.startswith("["), len(n) - len(n.lstrip("_")), n)
            if a not in best or k < best[a][0]:
                best[a] = (k, n)
        self.addrs = sorted(best)
        self.names = [best[a][1] for a in self.addrs]
        self.nmods = sum(1 for a, n in guest if n.endswith("]"))

    def name(self, addr):
        if addr < KERNEL_START:
            return "[user]"
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return "[kernel]"
        return self.names[i]


KSYM_RE = re.compile(r"^# ksym ([0-9a-fA-F]+) ([tTwW]) (\S+)(?:\s+\[(\S+)\])?")


def parse_results(path):
    runs, ksyms = [], []
    for line in read_lines(path):
        if line.startswith("run "):
            if " error=" in line:
                continue
            p = line.split()
            kv = dict(x.split("=", 1) for x in p[5:] if "=" in x)
            runs.append({"row": p[1], "impl": p[2], "ver": p[3],
                         "cipher": p[4], "rep": int(kv["rep"]),
                         "bytes": int(kv["bytes"]), "mark": int(kv["mark"])})
            continue
        k = parse_ksym(line)
        if k:
            ksyms.append(k)
    return runs, ksyms


def parse_ksym(line):
    """(address, type, "name [module]") of a "# ksym" line, else None."""
    m = KSYM_RE.match(line)
    if not m:
        return None
    name = m.group(3)
    if m.group(4):
        name += " [%s]" % m.group(4)
    return int(m.group(1), 16), m.group(2), name


def parse_counts(path):
    counts = {}
    for line in read_lines(path):
        p = line.split()
        if len(p) >= 3 and p[0] == "ktls-count" and p[1].isdigit():
            counts[int(p[1])] = int(p[2])
    return counts


def load_profile(path, syms):
    funcs, total = {}, 0
    for line in read_lines(path):
        p = line.split()
        if len(p) < 2:
            continue
        n = int(p[1])
        name = syms.name(int(p[0], 16))
        funcs[name] = funcs.get(name, 0) + n
        total += n
    return funcs, total


def cfg_label(r):
    return "%s %s %s" % (r["row"], "TLS 1.2" if r["ver"] == "tls12" else
                         "TLS 1.3" if r["ver"] == "tls13" else r["ver"],
                         r["cipher"])


def fmt_table(funcs, mib, total, top=None):
    out = ["%6s %14s %6s %6s  %s" % ("rank", "insn/MiB", "%", "cum%",
                                      "function")]
    cum = 0
    items = sorted(funcs.items(), key=lambda kv: (-kv[1], kv[0]))
    for i, (name, n) in enumerate(items[:top] if top else items, 1):
        cum += n
        out.append("%6d %14.0f %6.2f %6.2f  %s" %
                   (i, n / mib, 100.0 * n / total if total else 0,
                    100.0 * cum / total if total else 0, name))
    return out


def module_of(name):
    if name.endswith("]") and " [" in name:
        return name[name.rindex(" [") + 1:]
    return "[user]" if name == "[user]" else "vmlinux"


def by_module(funcs):
    mods = {}
    for name, n in funcs.items():
        m = module_of(name)
        mods[m] = mods.get(m, 0) + n
    return mods


def fmt_diff(kt, it, top=None):
    names = set(kt["funcs"]) | set(it["funcs"])
    rows = []
    for name in names:
        a = kt["funcs"].get(name, 0) / kt["mib"]
        b = it["funcs"].get(name, 0) / it["mib"]
        rows.append((abs(a - b), name, a, b))
    rows.sort(key=lambda r: (-r[0], r[1]))
    ta, tb = kt["total"] / kt["mib"], it["total"] / it["mib"]
    out = ["%14s %14s %14s  %s" % ("ktls/MiB", "intree/MiB", "ktls-intree",
                                   "function"),
           "%14.0f %14.0f %+14.0f  %s" % (ta, tb, ta - tb, "(total)")]
    for _, name, a, b in rows[:top] if top else rows:
        out.append("%14.0f %14.0f %+14.0f  %s" % (a, b, a - b, name))
    out.append("by module:")
    out += fmt_parts(by_module(kt["funcs"]), by_module(it["funcs"]),
                     kt["mib"], it["mib"])
    return out


def fmt_parts(ma, mb, da, db):
    """Rows "a b a-b part" for two {part: count} maps, each count over
    its denominator, the largest parts first."""
    def per(n, d):
        return n / d if d else 0.0
    out = []
    for m in sorted(set(ma) | set(mb),
                    key=lambda m: -max(per(ma.get(m, 0), da),
                                       per(mb.get(m, 0), db))):
        a, b = per(ma.get(m, 0), da), per(mb.get(m, 0), db)
        out.append("%14.0f %14.0f %+14.0f  %s" % (a, b, a - b, m))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sysmap", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--diff-top", type=int, default=20)
    a = ap.parse_args()

    runs, ksyms = parse_results(os.path.join(a.logs, "results.log"))
    counts = parse_counts(os.path.join(a.logs, "plugin.log"))
    syms = Symbols(a.sysmap, ksyms)
    tdir = os.path.join(a.logs, "profile")
    os.makedirs(tdir, exist_ok=True)
    print("symbols: %d text symbols (%d in modules) from %s%s" %
          (len(syms.addrs), syms.nmods, syms.source,
           "; " + syms.note if syms.note else ""))
    if not runs:
        print("no measured runs in %s" % os.path.join(a.logs, "results.log"))
        return 1

    status = 0
    agg = {}            # (row, ver, cipher, impl) -> totals over reps
    order = []
    for r in runs:
        path = os.path.join(a.logs, "prof", "prof-%d.txt" % r["mark"])
        title = "%s %s rep=%d mark=%d" % (cfg_label(r), r["impl"], r["rep"],
                                          r["mark"])
        if not os.path.exists(path):
            print("\n== %s: no profile (%s)" % (title, path))
            status = 1
            continue
        funcs, total = load_profile(path, syms)
        mib = r["bytes"] / MiB
        plain = counts.get(r["mark"])
        if plain:
            check = "ktls-count %d, profile sum %d (%+.4f %%)" % (
                plain, total, 100.0 * (total - plain) / plain)
            if abs(total - plain) > plain * 0.001:
                status = 1
        else:
            check = "no ktls-count line, profile sum %d" % total
        head = "== %s: %.0f insn/MiB over %.2f MiB; %s" % (
            title, total / mib, mib, check)
        print("\n" + head)
        for line in fmt_table(funcs, mib, total, a.top):
            print(line)
        fname = "%s_%s_%s_%s_rep%d.txt" % (r["row"], r["ver"], r["cipher"],
                                           r["impl"], r["rep"])
        with open(os.path.join(tdir, fname), "w") as f:
            f.write(head + "\n")
            for line in fmt_table(funcs, mib, total):
                f.write(line + "\n")
        key = (r["row"], r["ver"], r["cipher"])
        if key not in order:
            order.append(key)
        s = agg.setdefault(key + (r["impl"],),
                           {"funcs": {}, "mib": 0.0, "total": 0, "reps": 0})
        for name, n in funcs.items():
            s["funcs"][name] = s["funcs"].get(name, 0) + n
        s["mib"] += mib
        s["total"] += total
        s["reps"] += 1

    for key in order:
        kt, it = agg.get(key + ("ktls",)), agg.get(key + ("intree",))
        if not kt or not it:
            continue
        r = {"row": key[0], "ver": key[1], "cipher": key[2]}
        head = ("== diff %s: ktls vs intree, insn/MiB (%d+%d runs), "
                "largest differences" % (cfg_label(r), kt["reps"], it["reps"]))
        print("\n" + head)
        for line in fmt_diff(kt, it, a.diff_top):
            print(line)
        fname = "diff_%s_%s_%s.txt" % key
        with open(os.path.join(tdir, fname), "w") as f:
            f.write(head.replace("largest differences", "all functions") +
                    "\n")
            for line in fmt_diff(kt, it):
                f.write(line + "\n")
    print("\nfull tables in %s" % tdir)
    return status


if __name__ == "__main__":
    sys.exit(main())
