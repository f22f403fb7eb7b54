#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-function instruction profile of one `make bench-serve-profile` boot.

  profile-serve.py --sysmap System.map-REL --logs DIR [--bin-dir D ...]
                   [--top 25] [--diff-top 30]

DIR is the per-kernel log directory of run-bench-serve.sh with
BSERVE_PROFILE=1: results.log ("bserve seq=S row=R impl=I ..." lines, the
servers' memory maps as "# maps IMPL LINE", kernel symbols as "# ksym"),
plugin.log ("ktls-count S N ... vcpu1=M") and prof/prof-S.txt (server
vCPU only).  Kernel addresses go to the guest's kallsyms (profile.py's
Symbols); user addresses to the server whose window it is, through its
maps, to the host's copy of the mapped file (the initramfs copies them:
same paths; /ktls/bin and /usr/bin programs are looked up in --bin-dir and
PATH) and its symbol table.  Shared libraries Debian strips keep only
their exported symbols, so an internal function of libcrypto shows under
the exported one before it ("~name").  Prints per run the top functions
per request, then per row the functions whose cost per request differs
most between ktls-serve and nginx, and the same by part (kernel: vmlinux
or the module; user: the binary or library).
"""
import argparse
import bisect
import importlib.util
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "bench_profile", os.path.join(HERE, "profile.py"))
bench_profile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_profile)
read_lines = bench_profile.read_lines
KERNEL_START = bench_profile.KERNEL_START
MiB = 1024 * 1024

MAPS_RE = re.compile(r"^# maps (\S+) ([0-9a-f]+)-([0-9a-f]+) (\S+) "
                     r"([0-9a-f]+) \S+ \d+\s*(\S*)")
SIZE_RE = re.compile(r"^([0-9.]+)([KMGT]?)B$")


def parse_size(s):
    m = SIZE_RE.match(s)
    if not m:
        return 0.0
    mult = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB,
            "T": 1024 * 1024 * MiB}[m.group(2)]
    return float(m.group(1)) * mult


class ElfSyms:
    """Text symbols of one host ELF file, by file offset."""

    def __init__(self, path):
        self.path = path
        self.loads = []         # (p_offset, p_vaddr, p_filesz)
        out = subprocess.run(["readelf", "-lW", path], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            p = line.split()
            if p and p[0] == "LOAD":
                self.loads.append((int(p[1], 16), int(p[2], 16),
                                   int(p[4], 16)))
        syms, self.exact = self._nm([]), True
        if not syms:
            syms, self.exact = self._nm(["-D"]), False
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]

    def _nm(self, extra):
        out = subprocess.run(["nm", "--defined-only"] + extra + [self.path],
                             capture_output=True, text=True).stdout
        syms = []
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "tTwWiI":
                syms.append((int(p[0], 16), p[2].split("@")[0]))
        return syms

    def name(self, off):
        vaddr = None
        for o, v, sz in self.loads:
            if o <= off < o + sz:
                vaddr = off - o + v
                break
        if vaddr is None or not self.addrs:
            return None
        i = bisect.bisect_right(self.addrs, vaddr) - 1
        if i < 0:
            return None
        return self.names[i] if self.exact else "~" + self.names[i]


class UserSyms:
    """User addresses of one server: its executable mappings."""

    def __init__(self, maps, bin_dirs, cache):
        self.maps = []          # (start, end, offset, guest path, ElfSyms)
        for start, end, off, path in maps:
            host = self._host_path(path, bin_dirs)
            elf = None
            if host:
                elf = cache.get(host)
                if elf is None:
                    elf = cache[host] = ElfSyms(host)
            self.maps.append((start, end, off, path, elf))

    @staticmethod
    def _host_path(path, bin_dirs):
        if not path.startswith("/"):
            return None
        base = os.path.basename(path)
        if path.startswith("/ktls/bin/") or path.startswith("/usr/bin/"):
            for d in bin_dirs:
                if os.path.isfile(os.path.join(d, base)):
                    return os.path.join(d, base)
            found = shutil.which(base)
            if found:
                return os.path.realpath(found)
        return path if os.path.isfile(path) else None

    def name(self, addr):
        for start, end, off, path, elf in self.maps:
            if start <= addr < end:
                base = os.path.basename(path) or "[anon]"
                n = elf.name(addr - start + off) if elf else None
                return "%s [%s]" % (n or "?", base)
        return "[user: unmapped]"


def parse_results(path):
    runs, ksyms, maps = [], [], {}
    for line in read_lines(path):
        if line.startswith("bserve "):
            kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
            if kv.get("row") == "idle" or "seq" not in kv:
                continue
            runs.append({"seq": int(kv["seq"]), "row": kv["row"],
                         "impl": kv["impl"], "rep": int(kv["rep"]),
                         "reqs": int(kv.get("reqs", "0") or 0),
                         "bytes": parse_size(kv.get("read", ""))})
            continue
        m = MAPS_RE.match(line)
        if m:
            if "x" in m.group(4):
                maps.setdefault(m.group(1), []).append(
                    (int(m.group(2), 16), int(m.group(3), 16),
                     int(m.group(5), 16), m.group(6)))
            continue
        k = bench_profile.parse_ksym(line)
        if k:
            ksyms.append(k)
    return runs, ksyms, maps


def parse_vcpu(path, cpu):
    counts = {}
    for line in read_lines(path):
        p = line.split()
        if len(p) >= 3 and p[0] == "ktls-count" and p[1].isdigit():
            for x in p[3:]:
                if x.startswith("vcpu%d=" % cpu):
                    counts[int(p[1])] = int(x.split("=", 1)[1])
    return counts


def part_of(name):
    if name.endswith("]") and " [" in name:
        return name[name.rindex(" [") + 1:]
    return "vmlinux"


def load(path, ksyms, usyms):
    funcs, total = {}, 0
    for line in read_lines(path):
        p = line.split()
        if len(p) < 2:
            continue
        addr, n = int(p[0], 16), int(p[1])
        if addr >= KERNEL_START:
            name = ksyms.name(addr)
        else:
            name = usyms.name(addr) if usyms else "[user]"
        funcs[name] = funcs.get(name, 0) + n
        total += n
    return funcs, total


def unit(row):
    return ("MiB", MiB) if row == "64m" else ("req", None)


def per(r, n):
    if r["row"] == "64m":
        return n / (r["bytes"] / MiB) if r["bytes"] else 0.0
    return n / r["reqs"] if r["reqs"] else 0.0


def fmt_table(funcs, r, total, top=None):
    u = unit(r["row"])[0]
    out = ["%6s %14s %6s %6s  %s" % ("rank", "insn/" + u, "%", "cum%",
                                      "function")]
    cum = 0
    items = sorted(funcs.items(), key=lambda kv: (-kv[1], kv[0]))
    for i, (name, n) in enumerate(items[:top] if top else items, 1):
        cum += n
        out.append("%6d %14.0f %6.2f %6.2f  %s" % (
            i, per(r, n), 100.0 * n / total if total else 0,
            100.0 * cum / total if total else 0, name))
    return out


def fmt_diff(a, b, row, top=None):
    """a, b: {"funcs", "den"} with den the requests (MiB for 64m)."""
    def pa(n):
        return n / a["den"] if a["den"] else 0.0

    def pb(n):
        return n / b["den"] if b["den"] else 0.0
    u = unit(row)[0]
    out = ["%14s %14s %14s  %s" % ("ktls-serve/" + u, "nginx/" + u,
                                   "difference", "function"),
           "%14.0f %14.0f %+14.0f  %s" % (pa(a["total"]), pb(b["total"]),
                                          pa(a["total"]) - pb(b["total"]),
                                          "(total)")]
    rows = []
    for name in set(a["funcs"]) | set(b["funcs"]):
        x, y = pa(a["funcs"].get(name, 0)), pb(b["funcs"].get(name, 0))
        rows.append((abs(x - y), name, x, y))
    rows.sort(key=lambda t: (-t[0], t[1]))
    for _, name, x, y in rows[:top] if top else rows:
        out.append("%14.0f %14.0f %+14.0f  %s" % (x, y, x - y, name))
    out.append("by part (kernel: vmlinux or module; user: binary or library):")
    parts = []
    for side in (a, b):
        m = {}
        for name, n in side["funcs"].items():
            m[part_of(name)] = m.get(part_of(name), 0) + n
        parts.append(m)
    out += bench_profile.fmt_parts(parts[0], parts[1], a["den"], b["den"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sysmap", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--bin-dir", action="append", default=[])
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--diff-top", type=int, default=30)
    a = ap.parse_args()

    runs, ksyms, maps = parse_results(os.path.join(a.logs, "results.log"))
    vcpu = parse_vcpu(os.path.join(a.logs, "plugin.log"), a.cpu)
    syms = bench_profile.Symbols(a.sysmap, ksyms)
    cache = {}
    usyms = dict((impl, UserSyms(m, a.bin_dir, cache))
                 for impl, m in maps.items())
    tdir = os.path.join(a.logs, "profile")
    os.makedirs(tdir, exist_ok=True)
    print("symbols: %d kernel text symbols (%d in modules) from %s; maps of %s"
          % (len(syms.addrs), syms.nmods, syms.source,
             ", ".join(sorted(usyms)) or "no server"))
    for host, elf in sorted(cache.items()):
        print("  %s: %d symbols%s" % (host, len(elf.addrs),
                                      "" if elf.exact else
                                      " (exported only: ~name)"))
    if not runs:
        print("no measured runs in %s" % os.path.join(a.logs, "results.log"))
        return 1

    status, agg, order = 0, {}, []
    for r in runs:
        path = os.path.join(a.logs, "prof", "prof-%d.txt" % r["seq"])
        title = "%s %s rep=%d seq=%d" % (r["row"], r["impl"], r["rep"],
                                         r["seq"])
        if not os.path.exists(path):
            print("\n== %s: no profile (%s)" % (title, path))
            status = 1
            continue
        funcs, total = load(path, syms, usyms.get(r["impl"]))
        plain = vcpu.get(r["seq"])
        if plain:
            check = "vcpu%d %d, profile sum %d (%+.4f %%)" % (
                a.cpu, plain, total, 100.0 * (total - plain) / plain)
            if abs(total - plain) > plain * 0.001:
                status = 1
        else:
            check = "no vcpu%d count, profile sum %d" % (a.cpu, total)
        u = unit(r["row"])[0]
        head = "== %s: %.0f insn/%s (%d requests, %.1f MiB); %s" % (
            title, per(r, total), u, r["reqs"], r["bytes"] / MiB, check)
        print("\n" + head)
        for line in fmt_table(funcs, r, total, a.top):
            print(line)
        with open(os.path.join(tdir, "%s_%s_rep%d.txt" % (
                r["row"], r["impl"], r["rep"])), "w") as f:
            f.write(head + "\n")
            for line in fmt_table(funcs, r, total):
                f.write(line + "\n")
        if r["row"] not in order:
            order.append(r["row"])
        s = agg.setdefault((r["row"], r["impl"]),
                           {"funcs": {}, "den": 0.0, "total": 0, "reps": 0})
        for name, n in funcs.items():
            s["funcs"][name] = s["funcs"].get(name, 0) + n
        s["den"] += (r["bytes"] / MiB) if r["row"] == "64m" else r["reqs"]
        s["total"] += total
        s["reps"] += 1

    for row in order:
        x, y = agg.get((row, "ktls-serve")), agg.get((row, "nginx"))
        if not x or not y:
            continue
        head = ("== diff %s: ktls-serve vs nginx, server vCPU instructions "
                "per %s (%d+%d runs), largest differences" %
                (row, unit(row)[0], x["reps"], y["reps"]))
        print("\n" + head)
        for line in fmt_diff(x, y, row, a.diff_top):
            print(line)
        with open(os.path.join(tdir, "diff_%s.txt" % row), "w") as f:
            f.write(head.replace("largest differences", "all functions") +
                    "\n")
            for line in fmt_diff(x, y, row):
                f.write(line + "\n")
    print("\nfull tables in %s" % tdir)
    return status


if __name__ == "__main__":
    sys.exit(main())
