"""The package's imports, read from the source with `ast` (DESIGN.md, "Layout"): no import circle
anywhere inside embedlab/, and no module imports another's `_private` names.

An import under `if TYPE_CHECKING:` is for the type checker only, never run: it is not an arrow.
Imports inside functions are (a circle hidden in a function is still a circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

from selftests.grading.conftest import ROOT

PACKAGE = ROOT / "embedlab"


def _modules() -> dict[str, tuple[Path, str]]:
    """Dotted name -> (file, the package its relative imports start from)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            found[".".join(parts)] = (path, ".".join(parts))
        else:
            found[".".join(parts)] = (path, ".".join(parts[:-1]))
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _arrows(modules) -> tuple[dict[str, dict[str, int]], list[str]]:
    """module -> {module it imports: line}, and every import of another module's private name."""
    arrows: dict[str, dict[str, int]] = {}
    private: list[str] = []
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        out: dict[str, int] = {}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        out.setdefault(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if not source.startswith("embedlab"):
                    continue
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    if full in modules:
                        out.setdefault(full, node.lineno)
                        continue
                    if source in modules:
                        out.setdefault(source, node.lineno)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and source != name:
                        private.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name} from {source}")
        out.pop(name, None)
        arrows[name] = out
    return arrows, private


def _circles(arrows: dict[str, dict[str, int]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    counter = 0
    for root in arrows:
        if root in index:
            continue
        work = [(root, iter(arrows[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(arrows[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return circles


def test_no_import_circle_inside_embedlab():
    arrows, _ = _arrows(_modules())
    circles = _circles(arrows)
    shown = []
    for group in circles:
        shown.append(" ; ".join(f"{a} -> {b} (line {arrows[a][b]})" for a in group for b in arrows[a] if b in group))
    assert not circles, "import circles in embedlab/:\n" + "\n".join(shown)


def test_no_module_imports_another_modules_private_names():
    _, private = _arrows(_modules())
    assert not private, "private names imported across modules (make them public, or move them):\n" + "\n".join(private)


def test_the_checker_sees_a_circle():
    assert _circles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
