"""Check cassette sets before they ship: `embedlab cassettes check [SET ...]`.

A set fails on a credential or identifying header, a real host, a non-200 response, a model that
disagrees with its manifest, a file that is not safe YAML, or a cassette no test module uses.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from urllib.parse import urlsplit

SECRET = re.compile(r"(bearer\s+[a-z0-9._-]{6,}|\bsk-[a-z0-9_-]{8,})", re.IGNORECASE)
MANIFEST_FIELDS = ("model", "server", "recorded", "kit_version")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="lint cassette sets (all of them by default)")
    check.add_argument("sets", nargs="*", metavar="SET", help="set names under cassettes/ (default: every set)")
    check.add_argument("--cassette-dir", type=Path, help="the folder holding the sets (default: the kit's cassettes/)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = kit.find_root()
    library = args.cassette_dir or root / "cassettes"
    names = args.sets or sorted(p.name for p in library.iterdir() if p.is_dir())
    if not names:
        print("no cassette sets found under cassettes/")
        return 1
    failed = 0
    for name in names:
        problems = check_set(root, library / name)
        if problems:
            failed += 1
            print(f"{name}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"{name}: ok")
    return 1 if failed else 0


def check_set(root: Path, directory: Path) -> list[str]:
    """Every problem found in the set at `directory`, judged against the kit at `root`."""
    from embedlab import kit
    from embedlab.grading import cassettes

    if not directory.is_dir():
        return [f"no folder {directory}"]
    problems: list[str] = []
    try:
        manifest = cassettes.read_manifest(directory)
    except ValueError as err:
        manifest = {}
        problems.append(f"{cassettes.MANIFEST} is not valid JSON: {err}")
    missing = [field for field in MANIFEST_FIELDS if field not in manifest]
    if missing:
        problems.append(f"{cassettes.MANIFEST} lacks {', '.join(missing)}")
    modules = set(kit.grading_modules(root))
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        problems.append("no cassette files")
    for path in files:
        problems.extend(f"{path.name}: {p}" for p in check_file(path, manifest.get("model"), modules))
    return problems


def check_file(path: Path, model: str | None, modules: set[str]) -> list[str]:
    from embedlab.grading import cassettes

    problems = []
    if path.stem not in modules:
        problems.append(f"no test module tests/{path.stem}.py uses this cassette")
    text = path.read_text(encoding="utf-8")
    for match in SECRET.finditer(text):
        problems.append(f"looks like a credential: {match.group(0)[:12]}…")
    try:
        interactions = cassettes.load_interactions(path)
    except Exception as err:  # noqa: BLE001 - any load failure is the finding
        return problems + [f"not a safe-YAML cassette: {type(err).__name__}: {str(err).splitlines()[0]}"]
    for number, interaction in enumerate(interactions, start=1):
        request, response = interaction["request"], interaction["response"]
        where = f"interaction {number}"
        for kind, headers in (("request", request.get("headers") or {}), ("response", response.get("headers") or {})):
            for header in headers:
                if header.lower() not in cassettes.KEPT_HEADERS:
                    problems.append(f"{where}: {kind} header {header!r} should have been scrubbed")
        host = urlsplit(request.get("uri", "")).hostname
        if host != cassettes.PLACEHOLDER_HOST:
            problems.append(f"{where}: request to a real host ({host!r}), not {cassettes.PLACEHOLDER_HOST}")
        status = (response.get("status") or {}).get("code")
        if status != 200:
            problems.append(f"{where}: response status {status}, not 200")
        inputs = cassettes.Inputs.from_body(request.get("body"))
        if inputs is None:
            problems.append(f"{where}: the request body is not an embeddings request")
        elif model is not None and inputs.model != model:
            problems.append(f"{where}: model {inputs.model!r}, but the manifest says {model!r}")
    return problems
