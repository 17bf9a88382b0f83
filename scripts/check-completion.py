#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the bash completion and the man page against the binary's flags.

The completion comes from the binary itself (`vmm completion bash`), so its
flag lists are the binary's. This runs the script in bash as bash-completion
would and checks what it offers, and checks that vmm.1 describes every flag
it lists, so a new flag without a man page entry fails here, and that the
page renders without warnings. Run by CTest
(completion_test):  scripts/check-completion.py VMM_BINARY VMM_1
"""
import re
import subprocess
import sys


def flags_by_command(script: str) -> dict:
    """{"run": ["--kernel", ...], "ctl": [...]} from the script's case arms."""
    result = {}
    for command, flags in re.findall(r'^    ([a-z]+)\)\n      flags="([^"]*)"', script, re.M):
        result[command] = [f for f in flags.split() if f not in ("--help", "--version")]
    return result


def complete(script: str, words: list, current: str) -> list:
    """What _vmm offers for the command line `words` followed by `current`."""
    line = " ".join(["vmm"] + words + [current])
    program = (script + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in ["vmm"] + words + [current]) + ")\n"
               f"COMP_CWORD={len(words) + 1}\n_vmm\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bash failed completing '{line}': {out.stderr}")
    return [w for w in out.stdout.splitlines() if w]


def main() -> int:
    binary, man_page = sys.argv[1], sys.argv[2]
    generated = subprocess.run([binary, "completion", "bash"], capture_output=True, text=True)
    if generated.returncode != 0:
        print(f"'{binary} completion bash' exited {generated.returncode}: {generated.stderr}")
        return 1
    script = generated.stdout
    problems = []
    flags = flags_by_command(script)
    if not flags.get("run") or not flags.get("ctl"):
        problems.append(f"the script lists no run or ctl flags: {flags}")

    with open(man_page) as f:
        man = f.read()
    for command, names in flags.items():
        for flag in names:
            if flag.replace("-", "\\-") not in man:
                problems.append(f"vmm.1 does not describe {command} {flag}")

    # The page must also render without roff warnings (groff-base, which man-db needs).
    lint = subprocess.run(["groff", "-man", "-ww", "-z", man_page], capture_output=True, text=True)
    if lint.returncode != 0 or lint.stderr:
        problems.append(f"groff warns about vmm.1: {lint.stderr.strip()}")

    expectations = [
        ([], "r", ["run"]),
        ([], "c", ["completion", "ctl"]),
        (["run"], "--mem", ["--memory", "--memory-backend"]),
        (["run"], "--balloon-s", ["--balloon-size"]),
        (["run", "--memory", "1G"], "--cp", ["--cpus"]),
        (["ctl"], "", ["balloon", "metrics", "migrate", "migrate-abandon", "migrate-cancel", "migrate-resume", "migrate-status", "pause", "ping", "resume", "shutdown", "snapshot", "status"]),
        (["ctl"], "--js", ["--json"]),
        (["ctl"], "--mem", []),         # --memory is no ctl flag
        (["run", "--kernel"], "", []),  # a value: bash completes file names
        (["completion"], "", ["bash"]),
    ]
    for words, current, expected in expectations:
        offered = sorted(complete(script, words, current))
        if offered != expected:
            problems.append(f"'vmm {' '.join(words + [current])}<TAB>' offers {offered}, expected {expected}")

    for problem in problems:
        print(problem)
    print(f"{sum(len(v) for v in flags.values())} flags, {len(expectations)} completions checked, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
