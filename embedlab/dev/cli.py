"""`embedlab dev new NAME --part PART` writes a new exercise from commented templates;
`embedlab dev check` checks the course against its tree and names each gap."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="write a new exercise: stub, solution, test module, catalogue entry, mistakes folder")
    new.add_argument("name", help="the exercise's name (letters, digits, underscores): what `pytest -k` takes")
    new.add_argument("--part", required=True, help="the part it belongs to, one declared in course.toml's [parts]")
    new.add_argument("--file", help="the exercise file under exercises/ (default: NAME.py); an existing one gets the function added")
    check = sub.add_parser("check", help="check course.toml against the tree, then the solutions against every cassette set")
    check.add_argument("--no-run", action="store_true", help="only read the tree: do not grade the solutions against the cassettes")
    for command in (new, check):
        command.add_argument("--root", type=Path, help="the kit's folder (default: the one around the current folder)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = (args.root or kit.find_root()).resolve()
    if args.action == "new":
        from embedlab.dev import new

        for line in new.new(root, args.name, args.part, args.file):
            print(line)
        print("Next: write the solution and the tests, then `embedlab record` and `embedlab dev check`.")
        return 0
    from embedlab.dev import check

    gaps = check.check(root, run_solutions=not args.no_run)
    for gap in gaps:
        print(f"- {gap}")
    if gaps:
        print(f"embedlab dev check: {len(gaps)} gap(s) in the course")
        return 1
    print("embedlab dev check: the course and its tree agree" + ("" if args.no_run else "; the solutions pass on every cassette set"))
    return 0
