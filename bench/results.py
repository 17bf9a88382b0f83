# SPDX-License-Identifier: MIT
"""What every bench writes besides its printed table.

--json FILE: the rows the table was printed from, the bench's arguments and
where they were measured (commit, VMM version, host kernel, PVM or not), so
runs can be compared across commits with any JSON tool.

--plot FILE: a PNG drawn by bench/plots.py. matplotlib (Debian:
python3-matplotlib) is imported only when a plot is asked for; without it the
bench stops before it runs, with one line saying what to install, rather
than after an hour of measuring.

This module imports nothing of benchlib, so bench/results_test.py runs it
without a VMM, a guest or root.
"""
import datetime
import json
import os
import platform
import subprocess
import sys

FORMAT = 1  # bumped when a key changes meaning; new keys do not bump it
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VMM = os.path.join(ROOT, "build", "vmm", "vmm")
MATPLOTLIB_MISSING = ("--plot needs matplotlib, which {python} cannot import ({error}): on Debian 12 "
                      "apt-get install python3-matplotlib and run the bench with /usr/bin/python3, or pip install "
                      "matplotlib for this Python")


class PlotUnavailable(Exception):
    """matplotlib cannot be imported: the message says what to install."""


def add_arguments(ap, plot_help=None):
    """--json for every bench; --plot for those that draw (plot_help says what)."""
    ap.add_argument("--json", metavar="FILE", help="also write the figures, the arguments and the commit as JSON")
    if plot_help:
        ap.add_argument("--plot", metavar="FILE.png", help=plot_help)


def pyplot():
    """matplotlib.pyplot on a backend that needs no display."""
    try:
        import matplotlib
    except ImportError as e:
        raise PlotUnavailable(MATPLOTLIB_MISSING.format(python=sys.executable, error=e)) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def check_outputs(args, prog):
    """Before measuring: an output folder that does not exist, or --plot
    without matplotlib, ends the bench now (exit status 2, naming what was
    typed)."""
    for flag in ("json", "plot"):
        path = getattr(args, flag, None)
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            _usage_error(prog, f"--{flag} {path}: the folder {folder} does not exist")
    if getattr(args, "plot", None):
        try:
            pyplot()
        except PlotUnavailable as e:
            _usage_error(prog, str(e))


def _usage_error(prog, message):
    print(f"{prog}: {message}", file=sys.stderr)
    sys.exit(2)  # as argparse does for a bad argument


def _run(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def provenance():
    """Where and on what the figures were measured."""
    commit = _run(["git", "-C", ROOT, "rev-parse", "HEAD"])
    dirty = _run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return {
        "commit": commit,
        "commit_dirty": bool(dirty) if dirty is not None else None,
        "vmm_version": _run([VMM, "--version"]),
        "host": platform.node(),
        "host_kernel": platform.release(),
        "pvm": os.path.exists("/sys/module/kvm_pvm"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path, bench, args, rows, **extra):
    """Writes the document atomically (a reader never sees half of it)."""
    arguments = {k: v for k, v in vars(args).items() if k not in ("json", "plot")}
    doc = {"bench": bench, "format": FORMAT, **provenance(), "args": arguments, "rows": rows, **extra}
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        # default=str: a stray non-JSON value (a tuple is fine, a set is not)
        # is written as text rather than losing the whole run.
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
    os.replace(tmp, path)


def write_outputs(args, bench, rows, plot=None, **extra):
    """After the run: --json, then --plot through plot(plt, rows, path)."""
    if getattr(args, "json", None):
        write_json(args.json, bench, args, rows, **extra)
        print(f"figures written to {args.json}")
    if plot and getattr(args, "plot", None):
        plot(pyplot(), rows, args.plot)
        print(f"chart written to {args.plot}")
