"""Where in the learner's file a wrong value came from: the line of the function's `return` (or of
its `def` when it has several), found by reading the file with `ast` in the grading process. The
file is parsed, never imported or run, and nothing here asks the worker."""

from __future__ import annotations

import ast
import re
from pathlib import Path

MAX_BYTES = 1_000_000  # a learner's file larger than this is not read


def value_line(path: Path, exercise: str, message: str = "") -> str:
    """'line 14' — the one `return` of the exercise's function —, or 'line 10 (def cosine)' when it
    has none or several; "" when the file cannot be read or holds no such function. A class
    exercise (vector_store: `class VectorStore`) answers for the method the failure sentence names
    (`store.add(…)`: 'line 30, in VectorStore.add'; `len(store)`), else for the class."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return ""
    function = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == exercise), None)
    if function is not None:
        return _line_of(function, "")
    wanted = exercise.replace("_", "").lower()
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.lower() == wanted), None)
    if cls is None:
        return ""
    methods = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    named = [m for m in re.findall(r"\.(\w+)\(", message) if m in methods]
    if not named and re.search(r"\blen\(", message) and "__len__" in methods:
        named = ["__len__"]
    if not named and re.search(rf"\b{re.escape(cls.name)}\(", message) and "__init__" in methods:
        named = ["__init__"]
    if named:
        return _line_of(methods[named[0]], cls.name)
    return f"line {cls.lineno} (class {cls.name})"


def _line_of(function: ast.FunctionDef | ast.AsyncFunctionDef, owner: str) -> str:
    """The line of the function's one `return`, else of its `def`; `owner` names a method's class."""
    returns = [n for n in _own_nodes(function) if isinstance(n, ast.Return) and n.value is not None]
    if len(returns) == 1:
        return f"line {returns[0].lineno}" + (f", in {owner}.{function.name}" if owner else "")
    return f"line {function.lineno} (def {function.name})"


def _own_nodes(function: ast.AST):
    """The function's nodes, without those of the functions, lambdas and classes defined inside it."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))
