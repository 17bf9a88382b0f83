#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a source file lacks its SPDX-License-Identifier line.

The project's own code is MIT; the kernel patches under guest-images/patches/
are GPL-2.0-only like the kernel they change (LICENSE, README "Licence").
Each source file names its licence in one line near its top: the first line,
or the second after a "#!" line. Run by CTest (spdx_test). With --fix, adds
the missing lines in each file's comment style (review the diff).
"""
import pathlib
import sys

PROJECT_LICENSE = "MIT"
KERNEL_PATCH_LICENSE = "GPL-2.0-only"
TAG = "SPDX-License-Identifier:"

# Folders that hold no source of ours: build trees, fetched or generated
# files, fuzz inputs (data, not code).
SKIPPED_DIRS = {".git", "__pycache__", "out", "cache", "stock-kernel", "corpus"}

# How a comment line starts, by file name suffix.
COMMENT_BY_SUFFIX = {
    ".cc": "// ", ".h": "// ", ".c": "// ",
    ".py": "# ", ".sh": "# ", ".cmake": "# ", ".config": "# ", ".service": "# ",
    ".bash": "# ", ".env": "# ", ".txt": "# ", ".1": '.\\" ', ".patch": "",
}
TEXT_FILES_ONLY_BY_NAME = {".txt": "CMakeLists.txt"}


def comment_prefix(path: pathlib.Path, text: str):
    """The comment start for this file's SPDX line, or None if it is no source file."""
    if path.suffix == ".in":  # a template CMake configures: vmm.1.in
        path = path.with_suffix("")
    only = TEXT_FILES_ONLY_BY_NAME.get(path.suffix)
    if only is not None and path.name != only:
        return None
    if path.suffix in COMMENT_BY_SUFFIX:
        return COMMENT_BY_SUFFIX[path.suffix]
    if path.suffix == "" and text.startswith("#!"):
        return "# "  # an executable script without a suffix (.ci/run)
    return None


def expected_license(path: pathlib.Path) -> str:
    return KERNEL_PATCH_LICENSE if path.suffix == ".patch" else PROJECT_LICENSE


def source_files(root: pathlib.Path):
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p in SKIPPED_DIRS or p.startswith("build") for p in parts[:-1]) or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        prefix = comment_prefix(path, text)
        if prefix is not None:
            yield path, text, prefix


def spdx_line_index(lines) -> int:
    return 1 if lines and lines[0].startswith("#!") else 0


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--fix"]
    fix = "--fix" in sys.argv[1:]
    root = pathlib.Path(args[0] if args else ".").resolve()
    problems = []
    checked = 0
    for path, text, prefix in source_files(root):
        checked += 1
        lines = text.splitlines(keepends=True)
        index = spdx_line_index(lines)
        wanted = f"{prefix}{TAG} {expected_license(path)}"
        have = lines[index].rstrip("\n") if index < len(lines) else ""
        if have == wanted:
            continue
        relative = path.relative_to(root)
        if TAG in have:
            problems.append(f"{relative}:{index + 1}: '{have}', expected '{wanted}'")
        elif fix:
            lines.insert(index, wanted + "\n")
            path.write_text("".join(lines))
            print(f"{relative}: added '{wanted}'")
        else:
            problems.append(f"{relative}:{index + 1}: no '{wanted}' line"
                            f" (scripts/check-spdx.py --fix adds it)")
    for problem in problems:
        print(problem)
    if checked == 0:
        print(f"no sources found under {root}")
        return 1
    print(f"{checked} files checked, {len(problems)} without their SPDX line")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
