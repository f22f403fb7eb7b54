#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise an lcov tracefile of kmod/ as Markdown (for the README).

  report.py --info ktls.info --prefix /abs/build/dir/ [--runs N]

Prints: lines and branches per file, every function under 80 % of its
lines, and every goto label with its jump count and, given the counters
after each program (--step, cumulative), the first program that jumped
there.

A function's lines are those from its FN line up to the next function's
in the same file (lcov gives start lines only; C functions do not nest).
A label counts as reached when one of the `goto LABEL;` lines of its
function ran: kernel style puts a goto on a line of its own, so that
line's count is the number of jumps.  A label reached only by falling
through from the code above is not a jump target and is not listed.
"""
import argparse
import re
import sys
from collections import defaultdict

LABEL = re.compile(r'^\s*([A-Za-z_]\w*):(?!:)\s*(;?\s*(/\*.*)?)$')
GOTO = re.compile(r'\bgoto\s+([A-Za-z_]\w*)\s*;')
NOT_LABELS = {'default', 'public', 'private', 'protected'}


class File:
    def __init__(self, path):
        self.path = path
        self.fn = {}                    # name -> start line
        self.fnda = defaultdict(int)    # name -> calls
        self.da = {}                    # line -> count
        self.br = defaultdict(list)     # line -> [taken or None]


def parse(info):
    files = {}
    cur = None
    with open(info) as f:
        for raw in f:
            line = raw.rstrip('\n')
            tag, _, val = line.partition(':')
            if tag == 'SF':
                cur = files.setdefault(val, File(val))
            elif cur is None:
                continue
            elif tag == 'FN':
                ln, name = val.split(',', 1)
                cur.fn[name] = int(ln)
            elif tag == 'FNDA':
                n, name = val.split(',', 1)
                cur.fnda[name] += int(n)
            elif tag == 'DA':
                ln, n = val.split(',')[:2]
                cur.da[int(ln)] = cur.da.get(int(ln), 0) + int(n)
            elif tag == 'BRDA':
                ln, _blk, _br, taken = val.split(',')
                cur.br[int(ln)].append(None if taken == '-' else int(taken))
            elif tag == 'end_of_record':
                cur = None
    return files


def pct(hit, found):
    return 100.0 * hit / found if found else 100.0


def fmt(hit, found):
    return f'{hit}/{found} ({pct(hit, found):.1f} %)' if found else '-'


def line_stats(f, lines):
    found = [ln for ln in lines if ln in f.da]
    return sum(1 for ln in found if f.da[ln] > 0), len(found)


def branch_stats(f, lines):
    found = hit = 0
    for ln in lines:
        for taken in f.br.get(ln, ()):
            found += 1
            hit += 1 if taken else 0
    return hit, found


def functions(f, nlines):
    """(name, first line, last line) in source order."""
    starts = sorted((ln, name) for name, ln in f.fn.items())
    out = []
    for i, (ln, name) in enumerate(starts):
        end = starts[i + 1][0] - 1 if i + 1 < len(starts) else nlines
        out.append((name, ln, end))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--info', required=True)
    ap.add_argument('--prefix', default='')
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--step', action='append', default=[],
                    help='NAME=INFO: counters after program NAME (in run order)')
    a = ap.parse_args()
    files = parse(a.info)
    steps = []
    for st in a.step:
        name, _, path = st.rpartition('=')
        steps.append((name, parse(path)))
    if not files:
        sys.exit('report.py: no files in ' + a.info)

    def short(p):
        return p[len(a.prefix):] if p.startswith(a.prefix) else p

    print(f'Merged from {a.runs} VM boot(s).\n')
    print('| file | lines | branches | functions |')
    print('|---|---|---|---|')
    tl = [0, 0]
    tb = [0, 0]
    low = []
    labels = []
    for path in sorted(files, key=short):
        f = files[path]
        try:
            src = open(path).read().split('\n')
        except OSError:
            src = []
        lh, lf = line_stats(f, f.da)
        bh, bf = branch_stats(f, f.br)
        fh = sum(1 for n in f.fn if f.fnda.get(n, 0) > 0)
        tl[0] += lh
        tl[1] += lf
        tb[0] += bh
        tb[1] += bf
        print(f'| {short(path)} | {fmt(lh, lf)} | {fmt(bh, bf)} | {fh}/{len(f.fn)} |')
        for name, first, last in functions(f, max(len(src), max(f.da, default=0))):
            rng = range(first, last + 1)
            h, n = line_stats(f, rng)
            if n and pct(h, n) < 80.0:
                low.append((short(path), name, first, h, n, branch_stats(f, rng)))
            # Goto targets of this function and the gotos that jump there.
            gotos = defaultdict(list)
            for ln in rng:
                if 0 < ln <= len(src):
                    for m in GOTO.finditer(src[ln - 1]):
                        gotos[m.group(1)].append(ln)
            for ln in rng:
                if not 0 < ln <= len(src):
                    continue
                m = LABEL.match(src[ln - 1])
                if not m or m.group(1) in NOT_LABELS or m.group(1) not in gotos:
                    continue
                jumps = sum(f.da.get(g, 0) for g in gotos[m.group(1)])
                labels.append((short(path), ln, name, m.group(1), jumps, gotos[m.group(1)]))
    print(f'| **all** | **{fmt(*tl)}** | **{fmt(*tb)}** | |')

    print('\nFunctions under 80 % of their lines:\n')
    if low:
        print('| function | file:line | lines | branches |')
        print('|---|---|---|---|')
        for path, name, first, h, n, (bh, bf) in low:
            print(f'| {name} | {path}:{first} | {fmt(h, n)} | {fmt(bh, bf)} |')
    else:
        print('none')

    unreached = [x for x in labels if x[4] == 0]
    print(f'\nGoto labels: {len(labels)}, reached by a jump: '
          f'{len(labels) - len(unreached)}, never jumped to: {len(unreached)}\n')
    if labels:
        print('| label | function | file:line | jumps | first reached after |')
        print('|---|---|---|---|---|')
        for path, ln, fn, name, jumps, gl in labels:
            first = 'never' if not jumps else first_step(steps, path, gl, a.prefix)
            print(f'| {name} | {fn} | {path}:{ln} | {jumps} | {first} |')


def first_step(steps, path, gotos, prefix):
    """The first program after which one of these goto lines had run."""
    for name, files in steps:
        f = files.get(prefix + path)
        if f and any(f.da.get(g, 0) for g in gotos):
            return name
    return '?' if steps else '-'


if __name__ == '__main__':
    main()
