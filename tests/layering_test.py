#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: enforces the direction of dependencies between source folders from their #include
# lines: stages/read, stages/stitch and stages/write never include stages/infer (only infer
# depends on the NN engine), nothing in stages/ includes pipeline/, and platform/ (the library
# wrappers) includes neither. Includes are followed through the tree's own headers (e.g.
# stages/tile.hpp), so a shared header that pulls in the engine is a violation of every folder
# that includes it.
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
    ("platform", "stages/"),
    ("platform", "pipeline/"),
]


def included_path(root, source, name):
    """The included file relative to root: a name beside the source wins over a root path."""
    beside = source.parent / name
    if beside.is_file():
        return beside.resolve().relative_to(root.resolve()).as_posix()
    return pathlib.PurePosixPath(name).as_posix()


def includes(root, source):
    """(line number, included path relative to root) of each quoted #include of source."""
    text = source.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        match = INCLUDE.match(line)
        if match:
            yield number, included_path(root, source, match.group(1))


def forbidden_chain(root, target, folder, forbidden, seen):
    """The include chain from `target` (a path relative to root) to a file under `forbidden`,
    following the tree's own files outside `folder` (those are checked on their own); None."""
    if target.startswith(forbidden):
        return [target]
    if target in seen or target.startswith(folder + "/"):
        return None
    seen.add(target)
    path = root / target
    if path.suffix not in SOURCES or not path.is_file():
        return None # a system or generated header
    for _, nested in includes(root, path):
        chain = forbidden_chain(root, nested, folder, forbidden, seen)
        if chain:
            return [target] + chain
    return None


def violations(root):
    found = []
    for folder, forbidden in RULES:
        base = root / folder
        if not base.is_dir():
            continue
        for source in sorted(base.rglob("*")):
            if source.suffix not in SOURCES or not source.is_file():
                continue
            where = source.relative_to(root).as_posix()
            for number, target in includes(root, source):
                chain = forbidden_chain(root, target, folder, forbidden, set())
                if not chain:
                    continue
                path = chain[0] + "".join(f", which includes {t}" for t in chain[1:])
                found.append(f"layering violation: {where}:{number} includes {path} "
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
