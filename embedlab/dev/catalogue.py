"""The mistakes catalogue as files: `selftests/grading/mistakes/<exercise>/<name>.py`.

Each file is a wrong answer a learner could write, as real Python, with its expectation in the
module docstring, one `key: value` a line, and the code swapped into the solution file below a
marker line:

    \"\"\"A mistake in applications.py: top k ascending.

    file: applications.py          # the exercise file whose functions it replaces
    test: test_highest_first       # part of the node id of the test that must fail
    says: lowest score first       # words the failure's message must contain
    \"\"\"

    # -- swapped into the solution file from here on (its own imports stand) --
    def top_k(query_vector, vectors, k=5):
        ...

`parses: no` marks a file that is deliberately not Python (a syntax error the grader must
survive). The correct variants live beside them, `selftests/grading/variants/<name>/<file>`,
with a one-line docstring and the same marker. Read as text, never imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MISTAKES_DIR = Path("selftests") / "grading" / "mistakes"
VARIANTS_DIR = Path("selftests") / "grading" / "variants"
MARKER = "# -- swapped into the solution file from here on (its own imports stand) --"
FIELDS = ("file", "test", "says")


class CatalogueError(Exception):
    """A mistake file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class MistakeFile:
    exercise: str  # the folder it sits in
    name: str  # the file's stem
    file: str
    test: str
    says: str
    source: str
    parses: bool = True


def header_and_source(path: Path, root: Path | None = None) -> tuple[str, str]:
    """The docstring's text and the code below the marker line."""
    shown = path.relative_to(root) if root else path
    text = path.read_text(encoding="utf-8")
    if not text.startswith('"""') or '"""' not in text[3:]:
        raise CatalogueError(f"{shown} does not start with a docstring that says what it is")
    end = text.index('"""', 3)
    header = text[3:end]
    before, marker, source = text[end + 3 :].partition(MARKER + "\n")
    if not marker:
        raise CatalogueError(f"{shown} has no line {MARKER!r} above the code it swaps in")
    return header, source.lstrip("\n")


def read_mistake(path: Path, root: Path | None = None) -> MistakeFile:
    shown = path.relative_to(root) if root else path
    header, source = header_and_source(path, root)
    fields: dict[str, str] = {}
    for line in header.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() in (*FIELDS, "parses") and key == key.strip():
            fields[key] = value.strip()
    missing = [f for f in FIELDS if not fields.get(f)]
    if missing:
        raise CatalogueError(f"{shown} does not say its {missing[0]!r} (a line '{missing[0]}: ...' in its docstring)")
    if not source.strip():
        raise CatalogueError(f"{shown} has no code below its marker line")
    return MistakeFile(
        exercise=path.parent.name,
        name=path.stem,
        file=fields["file"],
        test=fields["test"],
        says=fields["says"],
        source=source,
        parses=fields.get("parses", "yes") != "no",
    )


def mistakes(root: Path) -> list[MistakeFile]:
    """Every mistake of the catalogue under the kit at `root`, folder by folder, by name."""
    folder = root / MISTAKES_DIR
    return [read_mistake(p, root) for p in sorted(folder.glob("*/*.py"))] if folder.is_dir() else []


def variants(root: Path) -> dict[str, dict[str, str]]:
    """Variant name -> {exercise file: the code swapped in}."""
    folder = root / VARIANTS_DIR
    found: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*/*.py")) if folder.is_dir() else []:
        found.setdefault(path.parent.name, {})[path.name] = header_and_source(path, root)[1]
    return found
