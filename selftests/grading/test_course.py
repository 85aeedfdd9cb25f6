"""The course is data: an instructor adds, reorders and rewords exercises in course.toml, never
under embedlab/, and a catalogue that disagrees with the kit is refused in one sentence."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from embedlab import course
from selftests.grading.conftest import ROOT, clean_env

KIT = ("embedlab", "exercises", "solutions", "tests", "cassettes", ".github", "docs")
KIT_FILES = ("conftest.py", "course.toml", "pyproject.toml", "integrity.sha256", ".env.example", ".gitignore", "README.md")
WORDLLAMA = "wordllama-l2-supercat"

TOY_STUB = '''\
"""A toy exercise — length(): how long is a text's vector?"""

from embedlab.course import hint


def length(text, *, client=None, model=None):
    """The Euclidean length of `text`'s embedding, as a plain float (one request)."""
    raise NotImplementedError(hint("length"))
'''

TOY_SOLUTION = '''\
"""A toy exercise — length(): how long is a text's vector?"""

import numpy as np

from embedlab.common import client_and_model


def length(text, *, client=None, model=None):
    """The Euclidean length of `text`'s embedding, as a plain float (one request)."""
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=[text])
    return float(np.linalg.norm(response.data[0].embedding))
'''

TOY_TEST = '''\
"""A toy exercise — length() in exercises/toy.py."""

import numpy as np
import pytest

from embedlab.grading.outcomes import expect

pytestmark = pytest.mark.exercise("length")


@pytest.mark.points(2)
def test_length_is_the_norm_of_the_endpoints_vector(target, api):
    """Length is the norm of the endpoint's vector"""
    length = target.function("toy", "length")
    result = api.call(length, "a sleeping cat")
    expected = float(np.linalg.norm(api.vectors(["a sleeping cat"])[0]))
    expect(isinstance(result, float) and abs(result - expected) < 1e-6, f"length('a sleeping cat') returned {result!r}; expected {expected:.4f}")
'''

TOY_ENTRY = '''
[[exercises]]
name = "length"
file = "toy.py"
part = "section"
hint = "embed the one text, then np.linalg.norm of its vector. Which type must the answer be?"
'''


def copy_kit(destination: Path) -> Path:
    for name in KIT:
        shutil.copytree(ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in KIT_FILES:
        shutil.copy(ROOT / name, destination / name)
    return destination


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def run(kit: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=kit, env=clean_env(COLUMNS="80"), capture_output=True, text=True, timeout=timeout
    )


def grade(kit: Path, *args: str) -> subprocess.CompletedProcess:
    return run(kit, "-m", "pytest", "-p", "no:cacheprovider", "--live=off", f"--cassettes={WORDLLAMA}", *args)


def rows(output: str) -> list[tuple[str, str]]:
    """(status, exercise) of each row of the grading table, in order."""
    table = output[output.rindex("embedlab — grading") :]
    found = re.findall(r"^  (done|failing|not started|skipped)\s+(\w+)", table, flags=re.MULTILINE)
    return [(status, name) for status, name in found if name != "live"]  # not the live checks' row


@pytest.fixture(scope="module")
def toy_kit(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the kit with a toy exercise added as docs/instructors.md's "Adding an exercise" says, its
    cassette recorded by `embedlab record` from a real local server; and the machinery's hashes."""
    kit = copy_kit(tmp_path_factory.mktemp("toy") / "kit")
    before = fingerprint(kit / "embedlab")
    (kit / "exercises" / "toy.py").write_text(TOY_STUB)
    (kit / "solutions" / "toy.py").write_text(TOY_SOLUTION)
    (kit / "tests" / "test_6_toy.py").write_text(TOY_TEST)
    with (kit / "course.toml").open("a") as catalogue:
        catalogue.write(TOY_ENTRY)
    recorded = run(kit, "-m", "embedlab", "record", "--local", f"--cassettes={WORDLLAMA}", "--new-only", timeout=600)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert (kit / "cassettes" / WORDLLAMA / "test_6_toy.yaml").is_file()
    return kit, before


def test_an_added_exercise_is_graded_everywhere_without_touching_embedlab(toy_kit, tmp_path):
    kit, before = toy_kit
    stubs = grade(kit)
    assert ("not started", "length") in rows(stubs.stdout), stubs.stdout
    assert rows(stubs.stdout)[-1] == ("not started", "length")
    solved = grade(kit, "--solutions")
    assert solved.returncode == 0 and ("done", "length") in rows(solved.stdout), solved.stdout

    only = grade(kit, "--solutions", "-k", "length")
    assert rows(only.stdout) == [("done", "length")], only.stdout
    assert "1 passed" in only.stdout

    hint = run(kit, "-c", "from exercises.toy import length; length('x')")
    assert "length() in exercises/toy.py is not written yet. Hint: embed the one text" in hint.stderr

    submissions = tmp_path / "class"
    shutil.copytree(kit / "solutions", submissions / "ada", ignore=shutil.ignore_patterns("__pycache__"))
    graded = run(kit, "-m", "embedlab", "grade", str(submissions), f"--out={tmp_path / 'grades.csv'}", f"--cassettes={WORDLLAMA}", "--jobs=1")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with (tmp_path / "grades.csv").open() as handle:
        table = list(csv.DictReader(handle))
    names = [*course.load(ROOT / "course.toml").names, "length"]
    assert list(table[0])[4 : 4 + len(names)] == names
    assert table[0]["length"] == "2" and table[0]["status"] == "graded"

    released = run(kit, "-m", "embedlab", "release", str(tmp_path / "release"), "--grader=example/kit@v1")
    assert released.returncode == 0, released.stdout + released.stderr
    assert (tmp_path / "release" / "exercises" / "toy.py").read_text() == TOY_STUB
    assert not (tmp_path / "release" / "solutions").exists()

    mixed = tmp_path / "mixed"
    shutil.copytree(kit / "solutions", mixed, ignore=shutil.ignore_patterns("__pycache__"))
    (mixed / "toy.py").write_text(TOY_STUB)
    results = tmp_path / "mixed.json"
    grade(kit, f"--exercises-dir={mixed}", f"--grade-json={results}")
    screen = run(kit, "-c", WATCH_SCREEN, str(results), str(mixed))
    assert "Current: length in mixed/toy.py — not started" in screen.stdout, screen.stdout + screen.stderr
    assert "> not started  length" in screen.stdout
    assert "Hint for length: embed the one text" in " ".join(screen.stdout.split())
    assert fingerprint(kit / "embedlab") == before, "adding an exercise changed a file under embedlab/"


# What `embedlab watch` shows for a results file, with its list (`l`) and then its hint (`h`).
WATCH_SCREEN = """
import json, sys
from pathlib import Path
from embedlab import course
from embedlab.grading.report import Scorecard
from embedlab.watch import Watch
watch = Watch.__new__(Watch)
watch.root, watch.directory, watch.news = Path.cwd(), Path(sys.argv[2]), ""
watch.book = Scorecard.from_gradescope(json.loads(Path(sys.argv[1]).read_text()), course=course.load(Path("course.toml")))
for showing in ("list", "hint"):
    watch.showing = showing
    print("\\n".join(watch.screen(80)))
"""


def test_reordering_the_catalogue_reorders_the_table(tmp_path):
    kit = copy_kit(tmp_path / "kit")
    text = (kit / "course.toml").read_text()
    head, *entries = text.split("[[exercises]]")
    entries.reverse()
    (kit / "course.toml").write_text(head + "[[exercises]]".join(["", *entries]).replace("\n\n\n", "\n\n"))
    names = [n for _, n in rows(grade(kit, "--solutions").stdout)]
    assert names[: len(entries)] == list(reversed(course.load(ROOT / "course.toml").names))


def test_a_reworded_hint_is_what_the_stub_says(tmp_path):
    kit = copy_kit(tmp_path / "kit")
    text = (kit / "course.toml").read_text()
    first = course.load(ROOT / "course.toml").exercises[0]
    marker = f'name = "{first.name}"'
    start = text.index(marker)
    hint_at = text.index("hint = ", start)
    end = text.index('"""', text.index('"""', hint_at) + 3) + 3
    text = text[:hint_at] + 'hint = "What does the response hold for each text? Look before you guess."' + text[end:]
    (kit / "course.toml").write_text(text)
    stubs = grade(kit, "-k", first.name)
    assert "Hint: What does the response hold for each text? Look before you guess." in " ".join(stubs.stdout.split()), stubs.stdout


BROKEN = {
    "a name twice": (lambda t: t.replace('name = "cosine"', 'name = "embed"', 1), "lists exercise 'embed' twice"),
    "a missing file": (lambda t: t.replace('file = "embed.py"', 'file = "embedding.py"', 1), "names file 'embedding.py', which is not in exercises/"),
    "an unknown part": (lambda t: t.replace('part = "section"', 'part = "extra"', 1), "has part 'extra', which [parts] does not declare; declared: 'section', 'beyond'"),
    "an unknown format": (lambda t: t.replace("format_version = 1", "format_version = 99"), "has format_version 99; this kit reads 1"),
    "an exercise no test grades": (lambda t: t + TOY_ENTRY.replace('file = "toy.py"', 'file = "embed.py"'), "no test in tests/ grades exercise 'length'"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_catalogue_that_disagrees_is_refused_in_one_sentence(tmp_path, case):
    kit = copy_kit(tmp_path / "kit")
    change, sentence = BROKEN[case]
    (kit / "course.toml").write_text(change((kit / "course.toml").read_text()))
    done = grade(kit)
    assert done.returncode == 4, done.stdout + done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and sentence in errors[0], done.stdout + done.stderr
    assert "passed" not in done.stdout and "embedlab — grading" not in done.stdout


def test_a_test_of_an_unlisted_exercise_is_refused(tmp_path):
    kit = copy_kit(tmp_path / "kit")
    (kit / "tests" / "test_6_toy.py").write_text(TOY_TEST)
    done = grade(kit)
    assert done.returncode == 4
    assert "tests/test_6_toy.py grades exercise 'length', which course.toml does not list" in done.stdout + done.stderr


def test_no_module_of_the_kit_names_an_exercise_in_code():
    """Exercise names and files live in course.toml; code under embedlab/ may mention them only in
    docstrings and comments. A string names one when it is a name, calls it (`cosine(`) or names
    its file (`similarity.py`); the verb in "embed the texts" is a word, not a name."""
    import ast

    catalogue = course.load(ROOT / "course.toml")
    words = set(catalogue.names) | set(catalogue.files) | {f for e in catalogue.exercises for f in e.functions}
    for path in sorted((ROOT / "embedlab").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                named = {
                    w for w in words
                    if node.value.strip() == w or re.search(rf"(?<![\w.]){re.escape(w)}(?:\(|(?<=\.py)(?![\w]))", node.value)
                }
                assert not named, f"{path.relative_to(ROOT)}:{node.lineno} names {sorted(named)} in code"


def test_every_module_is_short_or_says_why():
    for path in sorted((ROOT / "embedlab").rglob("*.py")):
        lines = path.read_text().count("\n")
        if lines > 450:
            doc = ast_docstring(path)
            assert "stays whole" in doc, f"{path.relative_to(ROOT)} has {lines} lines: split it, or say in its docstring why it stays whole"


def ast_docstring(path: Path) -> str:
    import ast

    return ast.get_docstring(ast.parse(path.read_text())) or ""


@pytest.mark.parametrize("command", [["grade", "class"], ["release", "out", "--grader=example/kit@v1"], ["gradescope", "g.zip"]])
def test_the_instructors_commands_refuse_it_too(tmp_path, command):
    kit = copy_kit(tmp_path / "kit")
    (kit / "class" / "ada").mkdir(parents=True)
    change, sentence = BROKEN["a name twice"]
    (kit / "course.toml").write_text(change((kit / "course.toml").read_text()))
    done = run(kit, "-m", "embedlab", *command)
    assert done.returncode == 2 and done.stderr.strip().endswith(sentence + ": each name must be unique"), done.stderr
    assert not (kit / "out").exists() and not (kit / "g.zip").exists() and not (kit / "grades.csv").exists()
