"""The learner's screen, as a learner makes the usual mistakes, in an 80- and a 120-column terminal:
a few lines that say the right thing once, the grading table and "Next:" last, nothing wider than
the terminal, no library internals; `-k` for every exercise; the exercise files run both ways;
`pytest` from inside exercises/.
"""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys

import pytest

from embedlab import course

EXERCISES = course.load().names

from .conftest import ROOT, clean_env
from .submissions import MISTAKES, build, f

SECTION_FORMULA_ON_LISTS = f("""
    def cosine(a, b):
        return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    """)
TRUTH_OF_AN_ARRAY = f("""
    def cosine(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if not a or not b:
            raise ValueError("empty")
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    """)
FORGOT_I_PLUS_ONE = f("""
    def cosine(a, b):
        dot, i = 0.0, 0
        while i < len(a):
            dot += a[i] * b[i]
        return dot
    """)
RANK_WITHOUT_CLIENT = f("""
    def confirm_intuition(*, client=None, model=None):
        return rank(QUERY, DOCS + [DOG])
    """)
ARRAY_OF_ITEMS = f("""
    def embed(texts, *, client=None, model=None):
        client, model = client_and_model(client, model)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("empty")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] is not a string")
        return np.array(client.embeddings.create(model=model, input=texts).data)
    """)
BARE_STRINGS = f("""
    def rank(query, docs, *, client=None, model=None):
        vectors = embed([query] + list(docs), client=client, model=model)
        pairs = sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), key=lambda p: p[0], reverse=True)
        return [d for _, d in pairs]
    """)

#: the same mistakes as in the catalogue, written once there
CATALOGUE = {m.name: m.source for m in MISTAKES}

#: mistake -> (file, code, what the screen must say, what it must not)
CASES = {
    "section-formula-on-lists": ("similarity.py", SECTION_FORMULA_ON_LISTS, "raised TypeError", None),
    "truth-of-an-array": ("similarity.py", TRUTH_OF_AN_ARRAY, "raised ValueError", None),
    "forgot-i-plus-one": ("similarity.py", FORGOT_I_PLUS_ONE, "Stopped after 2 s", None),
    "rank-without-client": ("challenges.py", RANK_WITHOUT_CLIENT, "calls rank() without them: pass client=client, model=model on", "exercises/embed.py, line"),
    "array-of-items": ("embed.py", ARRAY_OF_ITEMS, "Embedding items", "base64"),
    "bare-strings": ("similarity.py", BARE_STRINGS, "returned the docs alone", "[':'"),
    "one-request-per-text": ("embed.py", CATALOGUE["embed-one-request-per-text"], "made 3 requests", None),
    "syntax-error": ("similarity.py", CATALOGUE["syntax-error"], "(this stops", None),
}


def grade(folder, *args: str, columns: int, cwd=ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    env = clean_env(COLUMNS=str(columns), LINES="40")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--live=off", "--grade-timeout=2", *args]
    if folder is not None:
        command.append(f"--exercises-dir={folder}")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> dict[tuple[str, int], str]:
    folders = {name: build(tmp_path_factory.mktemp(name), ROOT / "solutions", {file: code}) / "exercises" for name, (file, code, _, _) in CASES.items()}
    runs = [(name, columns) for name in CASES for columns in (80, 120)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two gradings at a time: one a core
        done = pool.map(lambda run: grade(folders[run[0]], columns=run[1]), runs)
        return {run: d.stdout + d.stderr for run, d in zip(runs, done)}


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_mistake_reads_right_on_one_screen(screens, name, columns):
    _, _, says, never = CASES[name]
    screen = screens[name, columns]
    lines = screen.rstrip("\n").splitlines()
    assert all(len(line) <= columns for line in lines), max(lines, key=len)
    assert "Traceback" not in screen and "CannotOverwriteExistingCassette" not in screen and "vcr" not in screen
    tail = "\n".join(lines[lines.index(next(l for l in lines if "embedlab — grading" in l)) :])
    assert "Total:" in tail and "Next:" in tail, screen  # the table and Next: come last
    assert lines[-1].startswith("    ") or "Next:" in lines[-1], lines[-3:]
    words = " ".join(screen.split())  # as read, whatever the wrapping
    assert says in words, screen
    if never:
        assert never not in words, screen
    assert len(lines) <= 44, f"{len(lines)} lines:\n{screen}"  # a 40-line terminal, plus the walls' one line (issue 25) and three progress lines since the applications have a test module each (issue 27)


def test_a_wall_of_numbers_is_never_shown(screens):
    for (name, _), screen in screens.items():
        assert not re.search(r"(-?\d\.\d{3,}[, ]+){12}", screen), (name, screen)


def test_an_endless_loop_is_named_once_with_its_line(screens):
    screen = screens["forgot-i-plus-one", 120]
    assert screen.count("Stopped after 2 s") <= 2  # the Next: line, and at most the table's row
    assert "It was running exercises/similarity.py, line" in screen and "in cosine" in screen


@pytest.mark.parametrize("name", EXERCISES)
def test_k_selects_exactly_one_exercise(tmp_path, name):
    done = grade(None, "--solutions", "-k", name, columns=100)
    assert done.returncode == 0, done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("  done")]
    assert [row.split()[1] for row in rows] == [name], done.stdout
    assert f"Everything selected passes ({name})" in done.stdout

def _rows(stdout: str) -> dict[str, str]:
    """exercise -> its state, from the grading table."""
    states = ("done", "failing", "not started", "waiting", "skipped")
    found = {}
    for line in stdout.splitlines():
        for state in states:
            if line.startswith(f"  {state} "):
                found[line[len(state) + 2 :].split()[0]] = state
    return found


def _collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--live=off", "--collect-only", "-q", *args, "tests"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_k_expressions_know_the_exercises_by_name():
    """pytest's own -k expressions: an exercise's name means exactly its tests, whatever other
    tests are called (`test_embeds_…`, `test_scores_by_cosine_…`)."""
    done = grade(None, "--solutions", "-k", "top_k or classify", columns=100)
    assert done.returncode == 0 and _rows(done.stdout) == {"top_k": "done", "classify": "done"}, done.stdout
    done = grade(None, "-k", "cosine or rank", columns=100)  # the stubs: nothing else may show as done
    assert _rows(done.stdout) == {"cosine": "not started", "rank": "not started"}, done.stdout
    done = grade(None, "--solutions", "-k", "not top_k and not vector_store", columns=100)
    rows = _rows(done.stdout)
    assert done.returncode == 0 and "top_k" not in rows and "vector_store" not in rows and "classify" in rows, done.stdout


def test_k_not_an_exercise_keeps_the_other_exercises_checks():
    """`-k "not embed"` drops embed's checks only, not `TestVectorStore::test_add_embeds_…`."""
    kept = _collected("-k", "not embed")
    assert not any(line.startswith("tests/test_1_embed.py") for line in kept), kept
    assert any("TestVectorStore::test_add_embeds_only_new_texts" in line for line in kept), kept
    assert any("TestRank::test_embeds_the_docs_in_one_request" in line for line in kept), kept
    chosen = _collected("-k", "(cosine or rank) and not TestRank")
    assert chosen and all("::TestCosine" in line for line in chosen), chosen  # its recorded and generated checks


def test_k_still_finds_a_single_check_by_its_name():
    assert _collected("-k", "test_a_zero_vector_raises_value_error") == [
        "tests/test_2_similarity.py::TestCosine::test_a_zero_vector_raises_value_error"
    ]
    assert _collected("-k", "cosine and test_a_zero") == _collected("-k", "test_a_zero_vector")


def test_stopping_early_says_the_total_is_partial():
    done = grade(None, "-x", columns=100)
    assert "Only 1 of" in done.stdout and "the total is not your grade" in done.stdout, done.stdout


def test_pytest_inside_exercises_grades_the_section():
    done = grade(None, columns=100, cwd=ROOT / "exercises")
    assert "0 of 10 exercises done" in done.stdout, done.stdout


@pytest.mark.parametrize("how", ["file", "module"])
def test_an_exercise_file_runs_both_ways(how):
    command = ["exercises/similarity.py"] if how == "file" else ["-m", "exercises.similarity"]
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "EMBED_MODEL" in done.stderr, done.stderr


def test_a_solution_file_runs_as_a_file(local_server):
    done = subprocess.run(
        [sys.executable, "solutions/similarity.py"], cwd=ROOT, env=clean_env(**local_server.environ),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ranked = [line.split(" ", 1)[1] for line in done.stdout.strip().splitlines()]
    assert set(ranked[:2]) == {"The cat sat on the mat.", "A feline napped on the soft rug."}


def test_the_reference_docstrings_name_real_paths():
    for path in (ROOT / "exercises").glob("*.py"):
        for named in re.findall(r"pytest (tests/\S+\.py)", path.read_text()):
            assert (ROOT / named).is_file(), (path, named)
        assert "work/" not in path.read_text(), path

