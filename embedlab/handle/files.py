"""The learner's folder as the grading side reads it, never by importing it: a copy the worker's
user may read, which file a location is in, what a file imports, and the sentences for a file that
does not import or a call that never ended."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def copy_tree(source: Path, destination: Path, limit: int = 5000) -> None:
    """The learner's folder, readable by the worker's user (regular files and folders only)."""
    destination.mkdir(parents=True, mode=0o755, exist_ok=True)
    os.chmod(destination, 0o755)
    count = 0
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not os.path.islink(os.path.join(folder, d))]
        target = destination / os.path.relpath(folder, source)
        target.mkdir(mode=0o755, exist_ok=True)
        os.chmod(target, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            count += 1
            if count > limit or os.path.islink(path) or not os.path.isfile(path):
                continue
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)


def module_of(location: str | None, package: str) -> str | None:
    if not location or not location.startswith(package + "/"):
        return None
    return location.split(",", 1)[0][len(package) + 1 :].removesuffix(".py").replace("/", ".")


def top_level_file(location: str | None, package: str) -> str | None:
    """The learner's file whose own top level was running at `location` ('pkg/x.py, line 3, in
    <module>: …'), or None: a file that breaks while it is imported."""
    if not isinstance(location, str) or not location.startswith(package + "/"):
        return None
    file, _, rest = location.partition(", line ")
    return file if rest.split(": ", 1)[0].endswith(", in <module>") else None


def sibling_imports(directory: Path, module: str) -> list[str]:
    """The learner's other modules that `module` imports at its top level (`from .embed import
    embed`), read from its source, never by importing it."""
    import ast

    package = directory.name
    try:
        tree = ast.parse((directory / (module.replace(".", "/") + ".py")).read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return []
    found: list[str] = []
    statements = list(tree.body)
    while statements:
        node = statements.pop(0)
        if isinstance(node, (ast.If, ast.Try)):
            statements[:0] = [
                *node.body,
                *getattr(node, "orelse", []),
                *getattr(node, "finalbody", []),
                *(s for h in getattr(node, "handlers", []) for s in h.body),
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found += [node.module] if node.module else [a.name for a in node.names]
            elif node.level == 0 and node.module and node.module.startswith(package + "."):
                found.append(node.module[len(package) + 1 :])
        elif isinstance(node, ast.Import):
            found += [a.name[len(package) + 1 :] for a in node.names if a.name.startswith(package + ".")]
    return [m for m in dict.fromkeys(found) if m != module and (directory / (m.replace(".", "/") + ".py")).is_file()]


def import_sentence(file: str, err: dict) -> str:
    kind = (err.get("types") or ["Exception"])[0]
    if kind == "SystemExit":
        return f"{file} could not be imported: it calls sys.exit({err.get('exit_code', '')}) when it is imported"
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        syntax = err.get("syntax") or {}
        where = err.get("location") or f"{file}, line {syntax.get('lineno')}"
        return f"{file} has a {kind}: {syntax.get('msg', err.get('message', ''))}\n  at {where}"
    where = err.get("location")
    return f"{file} could not be imported: {kind}: {str(err.get('message', ''))[:300]}" + (f"\n  at {where}" if where else "")


def stopped_sentence(seconds: float, where: str | None) -> str:
    sentence = f"Stopped after {seconds:g} s: the test did not finish. Is there a loop that never ends, or a call that waits forever?"
    return sentence + (f"\n  It was running {where}" if where else "")
