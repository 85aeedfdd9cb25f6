"""The course as data: `course.toml` at the kit's root, read with `tomllib`.

As Rustlings' `info.toml`: a `format_version`, a `title`, then one `[[exercises]]` table per
exercise, in the course's order:

    [[exercises]]
    name = "cosine"          # what `-k`, the table, watch, the CSV and Gradescope tags use
    file = "similarity.py"   # under exercises/ and solutions/
    part = "section"         # one of the parts declared in the [parts] table
    functions = ["cosine"]   # optional: what the learner writes (default: [name]); a release
                             # checks these are still stubs
    hint = "..."             # the stub's "not started" hint, watch's `h`

Points stay on the tests (`@pytest.mark.points`); a test says which exercise it grades with
`@pytest.mark.exercise("cosine")`. Nothing under `embedlab/` knows an exercise by name: an
instructor adds one with a stub, a solution, a test module and an entry here.

A `[parts]` table declares the parts, in order, each with the title its rows are shown under
(`section = "The section"`); every exercise's `part` is one of them.

An optional `[map]` table says which learner functions `embedlab map` draws with, by role, as
"module:function" of an exercise (`embedding = "embed:embed"`, `similarity = "similarity:cosine"`),
and may replace the texts and query it embeds (`texts = [...]`, `query = "..."`).

A catalogue that disagrees with itself, the files or the tests is refused with one sentence
(`CourseError`), before anything is graded.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

FILENAME = "course.toml"
FORMAT_VERSIONS = (1,)
LIVE = "live checks"  # the live checks' row: not an exercise of the catalogue
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CourseError(Exception):
    """The catalogue cannot be used; the message is one sentence saying why and where."""


@dataclass(frozen=True)
class Exercise:
    name: str
    file: str
    part: str
    hint: str
    functions: tuple[str, ...]

    @property
    def module(self) -> str:
        """The module the worker imports: `similarity` for similarity.py."""
        return self.file.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class Course:
    title: str
    exercises: tuple[Exercise, ...]
    path: Path
    welcome: str = ""
    final: str = ""
    map: MapSpec | None = None  # the optional [map] table: what `embedlab map` calls
    part_titles: dict[str, str] = field(default_factory=dict)  # [parts]: name -> title, in order

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.exercises]

    @property
    def files(self) -> list[str]:
        """The learner's files, each once, in the order they first appear."""
        return list(dict.fromkeys(e.file for e in self.exercises))

    def get(self, name: str) -> Exercise | None:
        return next((e for e in self.exercises if e.name == name), None)

    def index(self, name: str) -> int:
        """An exercise's place in the course; unknown names (the live checks) come last."""
        return next((i for i, e in enumerate(self.exercises) if e.name == name), len(self.exercises))

    def part_title(self, part: str) -> str:
        return self.part_titles.get(part, part)

    def parts(self) -> list[str]:
        """The parts that have exercises, in the course's order."""
        return list(dict.fromkeys(e.part for e in self.exercises))

    def check_files(self, root: Path) -> None:
        """Every `file` exists in exercises/ and (where the kit has them) solutions/."""
        for folder in ("exercises", "solutions"):
            if not (root / folder).is_dir():
                continue  # a learner's release ships no solutions/
            for exercise in self.exercises:
                if not (root / folder / exercise.file).is_file():
                    raise CourseError(f"{self.path.name}: exercise {exercise.name!r} names file {exercise.file!r}, which is not in {folder}/")

    def check_tests(self, root: Path) -> None:
        """Every exercise is graded by some test in tests/, and every test's exercise is listed."""
        marked = tested_exercises(root / "tests")
        for name, where in marked.items():
            if name != LIVE and self.get(name) is None:
                raise CourseError(
                    f"{where} grades exercise {name!r}, which {self.path.name} does not list: add an [[exercises]] entry for it or fix the marker"
                )
        for exercise in self.exercises:
            if exercise.name not in marked:
                raise CourseError(
                    f"{self.path.name}: no test in tests/ grades exercise {exercise.name!r} (mark one with @pytest.mark.exercise({exercise.name!r}))"
                )

    def check(self, root: Path) -> None:
        self.check_files(root)
        self.check_tests(root)
        if self.map is not None:
            self.map.check(self)


@dataclass(frozen=True)
class MapSpec:
    """`[map]`: the learner functions `embedlab map` draws with, as "module:function" (an exercise's
    module and one of its functions) — `embedding` turns texts into vectors, `similarity` scores
    two vectors —, and optionally the texts and query it embeds."""

    embedding: tuple[str, str]
    similarity: tuple[str, str]
    texts: tuple[str, ...] | None = None
    query: str | None = None

    def check(self, course: Course) -> None:
        for key, function in (("embedding", self.embedding), ("similarity", self.similarity)):
            if not any(e.module == function[0] and function[1] in e.functions for e in course.exercises):
                raise CourseError(f"{course.path.name}, [map]: {key} = {':'.join(function)!r} is no exercise's module and function")

    def exercise_of(self, course: Course, function: tuple[str, str]) -> Exercise:
        """The exercise that writes `function` ("module", "name"): its status says if it is done."""
        return next(e for e in course.exercises if e.module == function[0] and function[1] in e.functions)


def _map(path: Path, entry: object) -> MapSpec | None:
    if entry is None:
        return None
    where = f"{path.name}, [map]"
    if not isinstance(entry, dict):
        raise CourseError(f"{where} is not a table")
    unknown = sorted(set(entry) - {"embedding", "similarity", "texts", "query"})
    if unknown:
        raise CourseError(f"{where} has a key this kit does not know: {unknown[0]!r}")
    functions = {}
    for key in ("embedding", "similarity"):
        module, _, function = str(entry.get(key, "")).partition(":")
        if not (module and _NAME.match(function)):
            raise CourseError(f'{where}: {key} must name an exercise\'s module and one of its functions, as "module:function"')
        functions[key] = (module, function)
    texts = entry.get("texts")
    if texts is not None and (not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts)):
        raise CourseError(f"{where}: texts must be a list of sentences")
    query = entry.get("query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise CourseError(f"{where}: query must be a sentence")
    return MapSpec(functions["embedding"], functions["similarity"], tuple(texts) if texts else None, query)


def checked(root: Path) -> Course:
    """The kit's catalogue, checked against its files and tests: what every command starts with."""
    found = load(root / FILENAME)
    found.check(root)
    return found


def exercise_marks(path: Path) -> list[str]:
    """The exercise names a test module marks (`@pytest.mark.exercise("embed")`, `pytestmark = ...`),
    in order, read from its source (never imported); [] for a file that does not parse."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "exercise"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def tested_exercises(tests: Path) -> dict[str, str]:
    """Exercise name -> the first test file that marks it, read from the source (no import)."""
    found: dict[str, str] = {}
    for path in sorted(tests.glob("test_*.py")):
        for name in exercise_marks(path):
            found.setdefault(name, f"tests/{path.name}")
    return found


def find(start: Path | None = None) -> Path:
    """Where the catalogue is: $EMBEDLAB_COURSE, else course.toml in the kit folder."""
    given = os.environ.get("EMBEDLAB_COURSE")
    if given:
        return Path(given)
    from embedlab import kit

    try:
        return kit.find_root(start) / FILENAME
    except kit.KitNotFound as err:
        raise CourseError(str(err)) from None


_cache: dict[tuple[str, int, int], Course] = {}


def load(path: Path | None = None) -> Course:
    """The catalogue at `path` (default: `find()`), checked in itself; read once per version."""
    path = path or find()
    try:
        info = path.stat()
    except OSError:
        raise CourseError(f"there is no {path.name} at {path.parent}: the course catalogue is missing") from None
    key = (str(path), info.st_mtime_ns, info.st_size)
    if key not in _cache:
        _cache[key] = parse(path)
    return _cache[key]


def parse(path: Path) -> Course:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise CourseError(f"{path.name} is not valid TOML: {err}") from None
    version = data.get("format_version")
    if version not in FORMAT_VERSIONS:
        raise CourseError(f"{path.name} has format_version {version!r}; this kit reads " + " or ".join(str(v) for v in FORMAT_VERSIONS))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CourseError(f"{path.name} needs a title (a string)")
    entries = data.get("exercises")
    if not isinstance(entries, list) or not entries:
        raise CourseError(f"{path.name} lists no [[exercises]]")
    parts = _parts(path, data.get("parts"))
    exercises: list[Exercise] = []
    for number, entry in enumerate(entries, start=1):
        exercises.append(_exercise(path, number, entry, exercises, parts))
    return Course(
        title=title,
        exercises=tuple(exercises),
        path=path,
        welcome=str(data.get("welcome", "")),
        final=str(data.get("final", "")),
        map=_map(path, data.get("map")),
        part_titles=parts,
    )


def _parts(path: Path, entry: object) -> dict[str, str]:
    """`[parts]`: each part's name and the title its rows are shown under, in the course's order."""
    if not isinstance(entry, dict) or not entry:
        raise CourseError(f'{path.name} declares no [parts] (a table of part = "its title")')
    for name, title in entry.items():
        if not _NAME.match(name) or not isinstance(title, str) or not title.strip():
            raise CourseError(f"{path.name}, [parts]: {name!r} needs a title (a string), and a name of letters, digits and underscores")
    return dict(entry)


def _exercise(path: Path, number: int, entry: object, before: list[Exercise], parts: dict[str, str]) -> Exercise:
    where = f"{path.name}, exercise {number}"
    if not isinstance(entry, dict):
        raise CourseError(f"{where} is not a table")
    for key in ("name", "file", "part", "hint"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise CourseError(f"{where} needs {key!r} (a string)")
    name, file, part = entry["name"], entry["file"], entry["part"]
    where = f"{path.name}, exercise {name!r}"
    unknown = sorted(set(entry) - {"name", "file", "part", "hint", "functions"})
    if unknown:
        raise CourseError(f"{where} has a key this kit does not know: {unknown[0]!r}")
    if not _NAME.match(name):
        raise CourseError(f"{where}: a name is letters, digits and underscores (it is what `pytest -k` takes)")
    if name == LIVE or any(e.name == name for e in before):
        raise CourseError(f"{path.name} lists exercise {name!r} twice: each name must be unique")
    if not file.endswith(".py") or file.startswith("/") or ".." in Path(file).parts:
        raise CourseError(f"{where}: file {file!r} must be a .py file inside exercises/")
    if part not in parts:
        raise CourseError(f"{where} has part {part!r}, which [parts] does not declare; declared: " + ", ".join(repr(p) for p in parts))
    functions = entry.get("functions", [name])
    if not isinstance(functions, list) or not functions or not all(isinstance(f, str) and _NAME.match(f) for f in functions):
        raise CourseError(f"{where}: functions must be a list of the names the learner writes")
    return Exercise(name=name, file=file, part=part, hint=" ".join(entry["hint"].split()), functions=tuple(functions))


def hint(name: str) -> str:
    """What a stub raises: which function is still to write, where, and its hint from the catalogue.

    Never fails: a stub must still say "not written yet" where the catalogue cannot be read."""
    try:
        exercise = load().get(name)
    except CourseError:
        exercise = None
    if exercise is None:
        return f"{name}() is not written yet."
    written = exercise.functions[0] if name not in exercise.functions else name
    shown = f"{written}()" if written[:1].islower() else written  # a class is named as it is
    return f"{shown} in exercises/{exercise.file} is not written yet. Hint: {exercise.hint}"


# -- the exercise table of README.md and docs/learners.md -----------------------------------------

TABLE_BEGIN = "<!-- the exercises, rendered from course.toml by `python -m embedlab.course --readme`: edit course.toml, not this -->"
TABLE_END = "<!-- end of the exercises rendered from course.toml -->"
TABLE_FILES = ("README.md", "docs/learners.md")


def exercise_table(course: Course, root: Path) -> str:
    """The exercise table and the `pytest -k` names, rendered from the catalogue and the stubs it
    names (each function's signature without `client`/`model`, and its docstring's first line).

    README.md and docs/learners.md hold it between `TABLE_BEGIN` and `TABLE_END`; `stale_tables`
    says which of them differ from it and `write_tables` rewrites them. Plain functions, so that a
    course check (`embedlab dev check`) can call them as well as `python -m embedlab.course --readme`."""
    lines = ["| `pytest -k` | file | you write | in short (the stub's docstring has the whole contract) |", "|---|---|---|---|"]
    shown_file, shown_part = "", ""
    for exercise in course.exercises:
        stub = _stub_definitions(root / "exercises" / exercise.file)
        written = [stub.get(f, (f"{f}()" if f[:1].islower() else f, ""))[0] for f in exercise.functions]
        summary = next((said for f in exercise.functions if (said := stub.get(f, ("", ""))[1])), "")
        file = "" if exercise.file == shown_file else f"`exercises/{exercise.file}`"
        if exercise.part != shown_part and file:
            file += "" if not shown_part else f" ({course.part_title(exercise.part).lower()})"
        lines.append(f"| `{exercise.name}` | {file} | {', '.join(f'`{w}`' for w in written)} | {summary.replace('|', '&#124;')} |")
        shown_file, shown_part = exercise.file, exercise.part
    by_part = [f"{course.part_title(part).lower()}: " + ", ".join(f"`{e.name}`" for e in course.exercises if e.part == part) for part in course.parts()]
    lines += ["", f"Grade one exercise with `pytest -k NAME`, NAME one of — {'; '.join(by_part)}."]
    return "\n".join([TABLE_BEGIN, *lines, TABLE_END])


def _stub_definitions(path: Path) -> dict[str, tuple[str, str]]:
    """Name -> (how the learner calls it, its docstring's first line) for each top-level function
    and class of a stub file (a class by its `__init__`); {} when the file cannot be read."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
        elif isinstance(node, ast.ClassDef):
            init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            arguments = init.args if init is not None else ast.arguments([], [], None, [], [], None, [])
            arguments = ast.arguments(arguments.posonlyargs, arguments.args[1:], None, [], [], None, arguments.defaults)
        else:
            continue
        positional = ast.arguments(arguments.posonlyargs, arguments.args, None, [], [], None, arguments.defaults)
        summary = (ast.get_docstring(node) or "").strip().split("\n\n")[0]
        found[node.name] = (f"{node.name}({ast.unparse(positional)})", " ".join(summary.split()))
    return found


def _table_in(text: str) -> str | None:
    start, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    return text[start : end + len(TABLE_END)] if 0 <= start < end else None


def stale_tables(root: Path) -> list[str]:
    """The files of `TABLE_FILES` whose exercise table is missing or differs from what
    `exercise_table` renders from `root`'s course.toml (what to regenerate: `write_tables`)."""
    table = exercise_table(load(root / FILENAME), root)
    return [name for name in TABLE_FILES if _table_in((root / name).read_text(encoding="utf-8")) != table]


def write_tables(root: Path) -> list[str]:
    """Rewrite the exercise table in each file of `TABLE_FILES` that holds one; the files changed."""
    table = exercise_table(load(root / FILENAME), root)
    changed = []
    for name in TABLE_FILES:
        path = root / name
        text = path.read_text(encoding="utf-8")
        old = _table_in(text)
        if old is not None and old != table:
            path.write_text(text.replace(old, table), encoding="utf-8")
            changed.append(name)
    return changed


def main(argv: list[str] | None = None) -> int:
    """`python -m embedlab.course --readme`: rewrite the exercise tables from course.toml."""
    import argparse

    from embedlab import kit

    parser = argparse.ArgumentParser(prog="python -m embedlab.course", description=main.__doc__)
    parser.add_argument("--readme", action="store_true", help="rewrite the exercise table of " + " and ".join(TABLE_FILES))
    args = parser.parse_args(argv)
    if not args.readme:
        parser.print_help()
        return 2
    root = kit.find_root()
    changed = write_tables(root)
    print(f"rewrote the exercise table of {', '.join(changed)}" if changed else "the exercise tables match course.toml")
    missing = stale_tables(root)
    if missing:
        print(f"no exercise table between its markers in {', '.join(missing)}: add {TABLE_BEGIN!r} and {TABLE_END!r}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
