#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Flat profile of a `vmm run --profile-guest=FILE` recording.

  scripts/profile-guest.py FILE [--map guest-images/cache/linux-source-6.1/System.map]
                                [--from MS] [--to MS] [--top N] [--callers FUNCTION]

Each sample is attributed to the guest kernel function holding its RIP (user
space counts as "<user>"). --callers FUNCTION lists, for the samples inside
FUNCTION, the functions whose addresses were found on the stack: a scan, not
an unwind, so read it as "likely callers". --from/--to take the host
milliseconds of the first column (e.g. the window of one migration).
"""
import argparse
import bisect
import collections
import os
import sys

KERNEL_TEXT = (0xffffffff80000000, 0xffffffffa0000000)


def load_symbols(path):
    symbols = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                symbols.append((int(parts[0], 16), parts[2]))
    symbols.sort()
    return [a for a, _ in symbols], [n for _, n in symbols]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--map", default=os.path.join(here, "..", "guest-images", "cache", "linux-source-6.1", "System.map"))
    ap.add_argument("--from", dest="t_from", type=int, default=0)
    ap.add_argument("--to", dest="t_to", type=int, default=1 << 62)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--callers")
    args = ap.parse_args()
    if not os.path.exists(args.map):
        sys.exit(f"profile-guest: no System.map at {args.map} (give --map)")
    addrs, names = load_symbols(args.map)

    def name_of(address):
        if not KERNEL_TEXT[0] <= address < KERNEL_TEXT[1]:
            return "<user>"
        i = bisect.bisect_right(addrs, address) - 1
        return names[i] if i >= 0 else "?"

    flat, callers = collections.Counter(), collections.Counter()
    total = in_target = 0
    with open(args.file) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or not args.t_from <= int(parts[0]) <= args.t_to:
                continue
            total += 1
            function = name_of(int(parts[2], 16))
            flat[function] += 1
            if function == args.callers:
                in_target += 1
                callers.update({name_of(int(w, 16)) for w in parts[3:]})
    if total == 0:
        sys.exit("profile-guest: no samples in that window")
    print(f"{total} samples")
    for function, n in flat.most_common(args.top):
        print(f"{n:7d} {100 * n / total:5.1f}%  {function}")
    if args.callers:
        print(f"\nfunctions on the stack of the {in_target} samples in {args.callers}:")
        for function, n in callers.most_common(args.top):
            if function != args.callers:
                print(f"{n:7d}  {function}")


if __name__ == "__main__":
    main()
