"""Every mistake gets the right advice, on the first screen (issue 17).

Each test does what a learner or an instructor did — a broken file, the section's `a @ b` on
lists, a print, a wrong verdict, an endpoint that is down, `pytest exercises/embed.py`, a class of
oddly named submissions, a release for an LMS — and reads the words they get: an 80-column screen,
the results JSON or the CSV. The wrong submissions whose sentence is the whole story (items 3, 4,
8 and 9) are in the catalogue (submissions.py), graded on every cassette set by
test_wrong_answers.py.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, clean_env, run_cli
from .submissions import build, f

COLUMNS = 80


def stubs_with(folder: Path, changes: dict[str, tuple[str, str]]) -> Path:
    """A fresh clone's exercises/ (the stubs), each file's text edited: old -> new."""
    exercises = folder / "exercises"
    shutil.copytree(ROOT / "exercises", exercises, ignore=shutil.ignore_patterns("__pycache__"))
    for file, (old, new) in changes.items():
        text = (exercises / file).read_text(encoding="utf-8")
        assert old in text, (file, old)
        (exercises / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return exercises


def screen(exercises: Path | None, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> tuple[str, dict | None]:
    """What an 80-column terminal shows for `pytest ARGS`, and the results JSON."""
    report = exercises.parent / "results.json" if exercises is not None else None
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--grade-timeout=5", *args]
    if exercises is not None:
        command += [f"--exercises-dir={exercises}", f"--grade-json={report}"]
    done = subprocess.run(
        command, cwd=ROOT, env=env or clean_env(COLUMNS=str(COLUMNS), LINES="40"), capture_output=True, text=True, timeout=timeout
    )
    shown = done.stdout + done.stderr
    lines = shown.rstrip("\n").splitlines()
    assert all(len(line) <= COLUMNS for line in lines), max(lines, key=len)
    results = json.loads(report.read_text()) if report is not None and report.exists() else None
    return shown, results


def words(text: str) -> str:
    """The text as read, whatever the wrapping."""
    return " ".join(text.split())


def tail(shown: str) -> str:
    return words(shown[shown.index("embedlab — ") :])


def messages(results: dict) -> dict[str, str]:
    return {t["extra_data"]["nodeid"]: t["extra_data"]["message"] for t in results["tests"]}


# -- 1. the file that broke is blamed, with everything it stops --------------------------------


def test_a_syntax_error_blames_its_file_and_counts_what_it_stops(tmp_path):
    exercises = stubs_with(
        tmp_path, {"similarity.py": ("def rank(query, docs, *, client=None, model=None):", "def rank(query, docs, *, client=None, model=None)")}
    )
    shown, results = screen(exercises, "--live=off")
    read = tail(shown)
    assert "Next: fix exercises/similarity.py (this stops 30 checks; exercises/challenges.py imports it and waits on it)" in read, shown
    assert "exercises/similarity.py has a SyntaxError: expected ':'" in read
    for name in ("confirm_intuition", "self_similarity", "batch_vs_loop"):
        assert re.search(rf"^  waiting +{name} ", shown, re.M), shown  # never started, not "failing"
    challenges = [m for n, m in messages(results).items() if "test_3_challenges" in n]
    assert all(m.startswith("exercises/challenges.py waits on exercises/similarity.py") for m in challenges), challenges[0]
    assert "30 failed" in shown


def test_an_exit_at_import_blames_its_file_and_counts_every_check_it_stops(tmp_path):
    exercises = stubs_with(tmp_path, {"embed.py": ("import numpy as np", "import os\nos._exit(1)\nimport numpy as np")})
    shown, results = screen(exercises, "--live=off")
    read = tail(shown)
    stopped = [t for t in results["tests"] if t["extra_data"]["embedlab_status"] == "failed"]
    assert all(t["extra_data"].get("broken") == "exercises/embed.py" for t in stopped)  # every check but the skipped live ones
    assert len(stopped) == sum(not t["extra_data"]["live"] for t in results["tests"]), shown
    importers = sorted({t["extra_data"]["file"] for t in stopped} - {"exercises/embed.py"})
    assert f"Next: fix exercises/embed.py (this stops {len(stopped)} checks; " in read, shown
    assert all(f in read.split("Next:")[1] for f in importers) and "import it and wait on it)" in read, shown
    similarity = [m for n, m in messages(results).items() if "test_2_similarity" in n]
    assert all("waits on exercises/embed.py" in m and "exercises/similarity.py could not be imported" not in m for m in similarity), similarity[0]


# -- 2, 6, 7, 11: an exception leads with its advice; the verdict's reason; the live checks' reasons


@pytest.fixture(scope="module")
def raised(tmp_path_factory) -> tuple[str, dict]:
    """The section's `a @ b` on lists, and a batch_vs_loop that calls one text 'batch', on a
    learner's machine with no EMBED_MODEL."""
    changes = {
        "similarity.py": f("""
            def cosine(a, b):
                return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
            """),
        "challenges.py": f("""
            def batch_vs_loop(texts, *, client=None, model=None):
                client, model = client_and_model(client, model)
                batch = client.embeddings.create(model=model, input=list(texts))
                loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
                b, l = batch.usage.prompt_tokens, sum(r.usage.prompt_tokens for r in loop)
                return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": b, "loop_tokens": l,
                        "cheaper": "batch" if len(texts) == 1 or b < l else ("loop" if b > l else "same")}
            """),
    }
    exercises = build(tmp_path_factory.mktemp("raised"), ROOT / "solutions", changes) / "exercises"
    return screen(exercises)


def test_an_exception_leads_with_itself_and_the_hint(raised):
    shown, _ = raised
    read = tail(shown)
    assert "Next: fix cosine in exercises/similarity.py — it raised TypeError (this stops 9 checks):" in read, shown
    assert "unsupported operand type(s) for @: 'list' and 'list'" in read
    assert "Hint: the section's formula is" in read and "np.asarray first?" in read
    assert "whatever the lengths" not in read.split("Next:")[1]  # not a title that has nothing to do with it


def test_the_verdict_says_why_in_a_whole_sentence(raised):
    _, results = raised
    verdict = next(m for n, m in messages(results).items() if "test_the_verdict_follows_the_numbers" in n)
    assert "With one text the batch and the loop are the same single request" in verdict, verdict
    assert "equal tokens in as many requests cost the same, so the answer is 'same'" in verdict, verdict


def test_the_reason_live_checks_did_not_run_wraps_whole(raised):
    shown, results = raised
    assert "EMBED_MODEL is not set: set it in .env for your endpoint, or run `pytest --live local`" in words(shown), shown
    assert "…" not in "\n".join(line for line in shown.splitlines() if "skipped" in line)
    live = results["extra_data"]["exercises"]["live checks"]
    assert live["max_score"] == 0 == sum(t["max_score"] for t in results["tests"] if "live" in t["tags"])


def test_an_endpoint_that_is_down_is_said_so_and_costs_no_time(tmp_path):
    env = clean_env(COLUMNS=str(COLUMNS), LINES="40", EMBED_MODEL="all-minilm", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    shown, _ = screen(None, "--solutions", env=env)
    read = tail(shown)
    assert "the endpoint in OPENAI_BASE_URL is unreachable: start its server, or fix the URL in .env" in read, shown
    assert "Everything passes. Well done! The live checks did not run: the endpoint in OPENAI_BASE_URL is unreachable" in read
    assert "set EMBED_MODEL" not in read  # it is set
    probe = (
        "import sys, time; from embedlab.grading import live; t = time.monotonic()\n"
        "try: live.probe(live.LiveConfig('http://127.0.0.1:9/v1', 'k', 'm'))\n"
        "except live.LiveUnavailable: pass\n"
        "print(time.monotonic() - t, 'openai' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    seconds, imported = done.stdout.split()
    assert float(seconds) < 1.0 and imported == "False", done.stdout + done.stderr  # no openai import for a probe


# -- 5. what the learner's code printed --------------------------------------------------------


def test_what_the_code_printed_is_shown_under_the_failing_check(tmp_path):
    printing = f("""
        def cosine(a, b):
            print("a is", a)
            print("b is", b)
            return float(np.dot(a, b))
        """)
    exercises = build(tmp_path, ROOT / "solutions", {"similarity.py": printing}) / "exercises"
    shown, results = screen(exercises, "--live=off", "-k", "cosine")
    read = tail(shown)
    # "Next:" shows cosine's lesson, the formula on known angles (@pytest.mark.lesson), with what it printed there
    assert "Your code printed 2 lines during this check (`pytest -s -k cosine` shows it all): a is [3, 4] b is [4, 3]" in read, shown
    assert "0 of 1 exercise done" in read
    failed = next(t for t in results["tests"] if "test_same_direction" in t["extra_data"]["nodeid"])
    assert failed["extra_data"]["printed"].startswith("a is [1, 0]")


# -- 10, 11: small words ------------------------------------------------------------------------


def test_no_message_names_a_function_the_stubs_never_mention():
    for path in sorted((ROOT / "tests").glob("*.py")):
        assert "get_client()" not in path.read_text(encoding="utf-8"), path


def test_pytest_on_an_exercise_file_says_where_the_tests_are():
    env = clean_env(COLUMNS=str(COLUMNS), LINES="40")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "exercises/similarity.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 5, done.stdout
    assert "The tests that grade it are in tests/. Grade it with `pytest -k cosine` or `pytest -k rank`" in words(done.stdout), done.stdout


def test_a_shortened_list_says_how_many_in_all():
    from embedlab.wording import brief

    assert brief(["The cat sat on the mat.", "A feline rested on the rug.", "We deployed the web server at noon."]).endswith("(3 items in all)]")


def test_the_servers_banner_fits_80_columns():
    from embedlab.server.cli import banner

    description = "WordLlama l2_supercat, 256 dimensions, bundled with the wordllama package"
    for key, wildcard in ((None, True), ("a-key-of-twenty-chars", True), (None, False)):
        text = banner("http://127.0.0.1:8000/v1", "wordllama-l2-supercat", description, key, wildcard=wildcard)
        assert max(len(line) for line in text.splitlines()) <= COLUMNS, text


def test_the_learners_page_shows_what_an_80_column_terminal_shows():
    readme = (ROOT / "docs" / "learners.md").read_text(encoding="utf-8")
    sample = readme.split("### Reading the result\n\n```\n", 1)[1].split("```", 1)[0]
    assert max(len(line) for line in sample.splitlines()) <= COLUMNS
    assert "embedlab — grading" in sample and not re.search(r"^  \w[\w ]+ +\w+ +exercises/", sample, re.M)  # no file column at 80


# -- 12, 13: an instructor's class --------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_class_with_odd_names_says_whose_each_result_is_and_stays_out_of_git(tmp_path):
    names = ["José", "Zoë Ünïcode (late) ✓", "=1+2 q"]
    submissions = tmp_path / "kit" / "submissions"
    for name in names:
        shutil.copytree(ROOT / "exercises", submissions / name / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q", str(tmp_path / "kit")], check=True, capture_output=True)
    out = tmp_path / "kit" / "grades.csv"
    done = run_cli("grade", str(submissions), f"--out={out}", "--jobs=2", "--timeout=120")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    results = out.with_name("grades-results")
    for row in rows:
        name = row["submission"].removeprefix("'")
        data = json.loads((results / row["results_file"]).read_text(encoding="utf-8"))
        assert data["extra_data"]["submission"] == name
    assert sorted(r["submission"].removeprefix("'") for r in rows) == sorted(names)
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path / "kit", capture_output=True, text=True, check=True)
    assert "grades-results" not in status.stdout, status.stdout
    assert "3 submissions:" in done.stdout


def test_one_submission_is_one():
    from embedlab.instructor.gradebook import summary
    from embedlab.instructor.records import Graded

    assert summary([Graded("solo", "graded")], Path("grades.csv"), Path("grades-results")).startswith("1 submission: 1 graded")


# -- 14. a release for an LMS ------------------------------------------------------------------


def test_a_release_without_a_grader_is_a_folder_to_zip(tmp_path):
    out = tmp_path / "assignment"
    done = run_cli("release", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (out / ".github").exists() and (out / "exercises" / "embed.py").is_file()
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "The second needs" not in readme and "Your instructor grades" in readme
    assert (out / "docs" / "learners.md").read_bytes() == (ROOT / "docs" / "learners.md").read_bytes()


# -- issue 28, items 2 and 3: a learner's own mistake reads as theirs, from what was measured ----


def test_a_learners_repeats_and_a_store_that_forgets_are_named_as_theirs(tmp_path):
    """A text repeated in one add() call, a confirm_intuition() that appends to the section's DOCS,
    and a store whose file kept everything but that asks again: each told its own mistake, never
    "tell your instructor"; the reopened store's sentence follows what its file kept."""
    from .submissions import MISTAKES

    catalogue = {m.name: m for m in MISTAKES}
    exercises = build(
        tmp_path,
        ROOT / "solutions",
        {
            "applications.py": catalogue["store-remembers-what-it-holds-in-memory"].source,
            "challenges.py": catalogue["confirm-appends-to-the-sections-docs"].source,
        },
    ) / "exercises"
    shown, results = screen(exercises, "--live=off", "-k", "confirm_intuition or vector_store")
    said = messages(results)
    dog = next(m for n, m in said.items() if n.endswith("test_the_dog_lands_between_the_cats_and_the_server"))
    assert "sent 'a dog barked loudly' twice in one request: each call adds the dog to the section's own DOCS list" in dog, dog
    reopened = next(m for n, m in said.items() if "reopened" in n)
    assert "sent all 9 texts it holds again, though its file kept all of them" in reopened, reopened
    assert "nothing the store held survived" not in reopened
    assert "tell your instructor" not in words(shown), shown

    repeats = build(tmp_path / "repeats", ROOT / "solutions", {"applications.py": catalogue["store-repeats-a-text-given-twice"].source})
    shown, results = screen(repeats / "exercises", "--live=off", "-k", "vector_store")
    said = messages(results)
    add = next(m for n, m in said.items() if "test_add_embeds_only_new_texts" in n)
    assert "twice in one request: a text repeated in one add() call counts once" in add, add
    assert "tell your instructor" not in words(shown), shown

    memoryless = build(tmp_path / "memory", ROOT / "solutions", {"applications.py": catalogue["store-only-in-memory"].source})
    _, results = screen(memoryless / "exercises", "--live=off", "-k", "vector_store")
    reopened = next(m for n, m in messages(results).items() if "reopened" in n)
    assert "its file holds none of them, so nothing the store held survived" in reopened, reopened


# -- issue 28, item 4: a wrong value names its file and line -------------------------------------


def test_the_line_of_a_wrong_value_is_its_functions_return_or_def(tmp_path):
    from embedlab.grading.source import value_line

    path = tmp_path / "applications.py"
    path.write_text(
        f("""
        import numpy as np


        def top_k(query_vector, vectors, k=5):
            def score(row):
                return float(row @ query_vector)
            return sorted(enumerate(map(score, vectors)), key=lambda p: -p[1])[:k]


        def classify(text, examples, *, client=None, model=None):
            if not examples:
                return None
            return "a"


        class VectorStore:
            def __len__(self):
                return 0

            def add(self, texts):
                return len(texts)
        """),
        encoding="utf-8",
    )
    assert value_line(path, "top_k") == "line 7"  # its own return, not the nested function's
    assert value_line(path, "classify") == "line 10 (def classify)"  # two returns: which one is not known
    assert value_line(path, "vector_store", "then store.add(NOTES[4:9]) returned 5") == "line 21, in VectorStore.add"
    assert value_line(path, "vector_store", "len(store) is 0 after adding 9 texts") == "line 18, in VectorStore.__len__"
    assert value_line(path, "near_duplicates") == "" and value_line(tmp_path / "missing.py", "top_k") == ""


def test_a_wrong_value_names_the_line_that_returned_it(tmp_path):
    exercises = build(tmp_path, ROOT / "solutions", {"similarity.py": f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if len(a) != len(b) or len(a) == 0:
                raise ValueError("different lengths or empty")
            return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        """)}) / "exercises"
    line = next(i for i, text in enumerate((exercises / "similarity.py").read_text().splitlines(), 1) if "return float(a @ b" in text)
    shown, results = screen(exercises, "--live=off", "-k", "cosine")
    assert f"Next: fix cosine in exercises/similarity.py, line {line} — A zero vector raises ValueError" in tail(shown), shown
    zero = next(t for t in results["tests"] if t["extra_data"]["nodeid"].endswith("test_a_zero_vector_raises_value_error"))
    assert zero["extra_data"]["where"] == f"line {line}"


# -- issue 28, item 5: "Next:" leads with the exercise's main lesson -----------------------------


def test_next_leads_with_the_lesson_not_the_file_order():
    from embedlab import course
    from embedlab.grading.report import Scorecard, Result

    def result(name: str, status: str, message: str, lesson: bool = False) -> Result:
        return Result(f"tests/test_5_top_k.py::TestTopK::{name}", "top_k", "exercises/applications.py", name, 1, False, status, message, lesson=lesson)

    book = Scorecard(course=course.load())
    book.add(result("test_finds_the_most_similar_recorded_vectors", "passed", "", lesson=True))
    book.add(result("test_bad_arguments_raise_value_error", "failed", "top_k(q, [], 3) returned []; it should raise ValueError"))
    book.add(result("test_scores_every_row_at_once_not_in_a_python_loop", "failed", "is there a Python loop over the rows?", lesson=True))
    shown = words("\n".join(book.summary_lines()))
    assert "Next: fix top_k in exercises/applications.py — test_scores_every_row_at_once" in shown, shown
    assert "is there a Python loop" in shown and "it should raise ValueError" not in shown
    again = Scorecard.from_gradescope(book.gradescope(), course=book.course)  # the class report reads it back
    assert [r.lesson for r in again.results] == [True, False, True]


def test_each_exercise_marks_its_main_lesson():
    from embedlab import course

    def marked(*args: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "-m", "lesson", *args, "tests"],
            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return {line.split("::")[-1] for line in done.stdout.splitlines() if "::" in line}

    top_k = marked("-k", "top_k")
    assert "test_scores_every_row_at_once_not_in_a_python_loop" in top_k and "test_bad_arguments_raise_value_error" not in top_k
    for name in course.load().names:
        assert marked("-k", name), f"{name} has no @pytest.mark.lesson check"


def test_a_type_name_takes_a_or_an():
    """Issue 28, item 6: "an int64", never "a int64"."""
    from embedlab.wording import a_or_an

    assert [a_or_an(w) for w in ("int64", "float32", "ndarray", "list", "object")] == ["an int64", "a float32", "an ndarray", "a list", "an object"]
    for path in (ROOT / "tests").glob("*.py"):
        assert not re.search(r"\ba \{(type\(|np\.dtype\()", path.read_text(encoding="utf-8")), path
