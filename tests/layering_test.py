#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: enforces the direction of dependencies between source folders from their #include
# lines: stages/read, stages/stitch and stages/write never include stages/infer (only infer
# depends on the NN engine), and nothing in stages/ includes pipeline/.
"""Usage: layering_test.py --root DIR. Exit 0 when clean; 1 and one line per violation."""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SOURCES = {".hpp", ".cpp", ".h", ".cc", ".inl"}
# (folder whose files are checked, included prefix they must not use)
RULES = [
    ("stages/read", "stages/infer/"),
    ("stages/stitch", "stages/infer/"),
    ("stages/write", "stages/infer/"),
    ("stages", "pipeline/"),
]


def included_path(root, source, name):
    """The included file relative to root: a name beside the source wins over a root path."""
    beside = source.parent / name
    if beside.is_file():
        return beside.resolve().relative_to(root.resolve()).as_posix()
    return pathlib.PurePosixPath(name).as_posix()


def violations(root):
    found = []
    for folder, forbidden in RULES:
        base = root / folder
        if not base.is_dir():
            continue
        for source in sorted(base.rglob("*")):
            if source.suffix not in SOURCES or not source.is_file():
                continue
            text = source.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = included_path(root, source, match.group(1))
                if target.startswith(forbidden):
                    where = source.relative_to(root).as_posix()
                    found.append(f"layering violation: {where}:{number} includes {target} "
                                 f"({folder}/ must not include {forbidden})")
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, type=pathlib.Path)
    args = parser.parse_args()
    if not (args.root / "stages").is_dir():
        print(f"layering_test: {args.root} has no stages/ folder", file=sys.stderr)
        return 2
    found = violations(args.root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
