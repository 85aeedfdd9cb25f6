"""The SHA-256 of what grades: `embedlab integrity write | check`.

`integrity.sha256` lists the grading tests, conftest.py, the course catalogue and every cassette, in `sha256sum`'s own
format, so CI can verify a learner's repository with `embedlab integrity check` — or with plain
`sha256sum -c integrity.sha256` where the kit is not installed. A tripwire for edited tests or
cassettes, not a lock: whoever can edit the tests can edit this file too.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

MANIFEST = "integrity.sha256"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("check", "write"), help="check the files against the manifest, or write it")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = kit.find_root()
    if args.action == "write":
        write(root)
        print(f"wrote {MANIFEST}: {len(digests(root))} files")
        return 0
    problems = check(root)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{MANIFEST}: all {len(digests(root))} files match")
    return 1 if problems else 0


def covered(root: Path) -> list[Path]:
    files = [root / "conftest.py", root / "course.toml", *sorted((root / "tests").glob("*.py"))]
    files += sorted(p for p in (root / "cassettes").rglob("*") if p.is_file())
    return [p for p in files if p.is_file()]


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in covered(root)}


def write(root: Path) -> None:
    lines = [f"{digest}  {name}\n" for name, digest in digests(root).items()]
    (root / MANIFEST).write_text("".join(lines), encoding="utf-8")


def check(root: Path) -> list[str]:
    path = root / MANIFEST
    if not path.is_file():
        return [f"no {MANIFEST}: write it with `embedlab integrity write`"]
    expected = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        expected[name] = digest
    actual = digests(root)
    problems = [f"changed: {name}" for name in expected if name in actual and actual[name] != expected[name]]
    problems += [f"missing: {name}" for name in expected if name not in actual]
    problems += [f"not in the manifest: {name}" for name in actual if name not in expected]
    return problems
