#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a folder includes a header from a folder above it.

The project's folders form one direction of dependencies (README, "Layout"):
base <- {state, memory} <- virtio <- devices <- migration <- vmm. migration/
sits beside devices, not above it: it reaches the VM through its own
interfaces (MigrationSource, PageHints), never by naming a device. Run by
CTest (layering_test); prints every offending include with its file and line.
"""
import pathlib
import re
import sys

# Each folder and the project folders its sources may include from (besides
# its own). Subfolders (devices/balloon, vmm/kvm, */testing) belong to their
# top-level folder.
ALLOWED = {
    "base": set(),
    "state": {"base"},
    "memory": {"base"},
    "virtio": {"base", "memory", "state"},
    "devices": {"base", "memory", "state", "virtio"},
    "migration": {"base", "memory", "state"},
    "vmm": {"base", "memory", "state", "virtio", "devices", "migration"},
    # Guest tests drive the vmm binary as a user would; memory/ only for the
    # host's hugetlb pool (memory/testing/hugetlb_reservation.h).
    "tests": {"base", "memory"},
    # vmm/ only for its seccomp filters (seccomp_cost, migrate_pipeline
    # --seccomp on time the threads under the VMM's own lists).
    "bench": {"base", "memory", "state", "migration", "vmm"},
    # libFuzzer targets (VMM_FUZZ): each drives one parser, wherever it is.
    "fuzz": {"base", "memory", "state", "virtio", "devices", "migration", "vmm"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = []
    checked = 0
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".h", ".cc") or "build" in path.relative_to(root).parts[:1]:
                continue
            checked += 1
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = match.group(1).split("/")[0]
                if target == folder or target not in ALLOWED:
                    continue  # own folder, or a system/third-party header
                if target not in allowed:
                    problems.append(f"{path.relative_to(root)}:{number}: {folder}/ includes "
                                    f'"{match.group(1)}" from {target}/, which is above it')
    for problem in problems:
        print(problem)
    if checked == 0:
        print(f"no sources found under {root}")
        return 1
    print(f"{checked} files checked, {len(problems)} upward includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
