"""The grade is decided outside the learner's process.

A class of hostile and unlucky submissions — each the reference solutions plus one thing a real
class throws at a grader — is graded with `embedlab grade --jobs 2`. Each must get exactly the
grade of its honest twin (the same code without the attack), the kit's files must stay
byte-for-byte the same, no process may outlive the run, and every submission gets its row.

Everything is bounded: a temporary folder, the grader's time limits, a file-size limit on what
the stray processes may write, and a sweep of anything carrying this run's marker at the end.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT, SETS, clean_env, kill_carrying, processes_carrying, run_cli, run_pytest
from .submissions import build

MARKER = f"embedlab-stray-{uuid.uuid4().hex[:12]}"
# Honest code: a cosine that fails on every call, as a crash or a hang makes it fail.
COSINE_RAISES = "def cosine(a, b):\n    raise RuntimeError(\"not written yet\")\n"


def strays() -> list[int]:
    """Processes still running that a hostile submission started (they carry MARKER)."""
    return processes_carrying(MARKER)


def kill_strays() -> None:
    kill_carrying(MARKER)


class Listener:
    """A loopback TCP server that counts who reaches it: the learner's code must not."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.server.close()


def hostile(port: int, out: Path, witness: Path) -> dict[str, dict[str, str]]:
    """Each hostile submission: files to change in the solutions (an extra `__init__.py` included)."""
    python = sys.executable
    return {
        "patches-the-grader": {"__init__.py": textwrap.dedent("""
            import sys
            try:
                import embedlab.grading.report as report
                report.Scorecard.earned = property(lambda self: self.possible)
                report.Exercise.status = property(lambda self: "done")
                import _pytest.reports as reports
                reports.BaseReport.passed = property(lambda self: True)
                reports.BaseReport.failed = property(lambda self: False)
                import embedlab.grading.plugin as plugin
                plugin.pytest_runtest_makereport = lambda *a, **k: None
            except Exception:
                pass
            """)},
        "forges-results": {"challenges.py": textwrap.dedent("""
            import json, os
            forged = {"score": 49, "max_score": 49, "tests": [], "extra_data": {"exercises": {}}}
            for folder in (".", "..", "../..", "../kit", "../../kit"):
                try:
                    with open(os.path.join(folder, "results.json"), "w") as handle:
                        json.dump(forged, handle)
                except OSError:
                    pass
            os._exit(0)
            """)},
        "unblocks-the-solutions": {"embed.py": textwrap.dedent("""
            import sys
            sys.meta_path[:] = [f for f in sys.meta_path if "Solution" not in type(f).__name__]
            from solutions.embed import embed  # noqa
            """)},
        "detaches-a-process": {"challenges.py": textwrap.dedent(f"""
            import os, subprocess, sys
            code = (
                "import os, time\\n"
                "time.sleep(3)\\n"
                "for path in ({str(out)!r}, {str(witness)!r}):\\n"
                "    try:\\n"
                "        open(path, 'w').write('forged')\\n"
                "    except OSError:\\n"
                "        pass\\n"
                "time.sleep(60)\\n"
            )
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv({python!r}, [{python!r}, "-c", code, {MARKER!r}])
                os._exit(0)
            subprocess.Popen([{python!r}, "-c", "import time; time.sleep(60)", {MARKER!r}], start_new_session=True)
            """)},
        "edits-the-kit": {"embed.py": textwrap.dedent(f"""
            import os
            root = {str(ROOT)!r}
            for relative, text in (
                ("tests/test_1_embed.py", "\\ndef test_free_points():\\n    pass\\n"),
                ("tests/__pycache__/test_1_embed.cpython-311-{MARKER}.pyc", "forged"),
                ("cassettes/{SETS[0]}/test_1_embed.yaml", "\\n# edited\\n"),
            ):
                try:
                    os.makedirs(os.path.dirname(os.path.join(root, relative)), exist_ok=True)
                    with open(os.path.join(root, relative), "a") as handle:
                        handle.write(text)
                except OSError:
                    pass
            """)},
        "reaches-for-the-network": {"embed.py": textwrap.dedent(f"""
            import _socket, os, socket, subprocess, threading, urllib.request
            port = {port}
            def quietly(action):
                try:
                    action()
                except Exception:
                    pass
            quietly(lambda: socket.create_connection(("127.0.0.1", port), timeout=1))
            quietly(lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(("127.0.0.1", port)))
            quietly(lambda: urllib.request.urlopen(f"http://127.0.0.1:{{port}}/", timeout=1))
            thread = threading.Thread(target=quietly, args=(lambda: socket.create_connection(("localhost", port), timeout=1),))
            thread.start(); thread.join()
            child = f"import socket; socket.create_connection(('127.0.0.1', {{port}}), timeout=1)"
            quietly(lambda: subprocess.run([{python!r}, "-c", child], timeout=10, capture_output=True))
            quietly(lambda: os.system(f"{python} -c \\"{{child}}\\" 2>/dev/null"))
            """)},
        "segfaults-in-cosine": {"similarity.py": "def cosine(a, b):\n    import ctypes\n    return ctypes.string_at(0)\n"},
        "exits-in-cosine": {"similarity.py": "def cosine(a, b):\n    import sys\n    sys.exit(0)\n"},
        "skips-in-cosine": {"similarity.py": "def cosine(a, b):\n    import pytest\n    pytest.skip('not today')\n"},
        "hangs-in-cosine": {"similarity.py": "def cosine(a, b):\n    i = 0\n    while i < len(a):\n        pass\n"},
        "allocates-too-much": {"similarity.py": "def cosine(a, b):\n    return bytearray(64 * 1024**3)\n"},
    }


#: the honest twin of each: the same score is the right one
TWINS = {
    "patches-the-grader": "honest-solutions",
    "forges-results": "honest-no-challenges",
    "unblocks-the-solutions": "honest-stubs",
    "detaches-a-process": "honest-solutions",
    "edits-the-kit": "honest-solutions",
    "reaches-for-the-network": "honest-solutions",
    "segfaults-in-cosine": "honest-cosine-raises",
    "exits-in-cosine": "honest-cosine-raises",
    "skips-in-cosine": "honest-cosine-raises",
    "hangs-in-cosine": "honest-cosine-raises",
    "allocates-too-much": "honest-cosine-raises",
    "garbage-files": "honest-solutions",
}


def fingerprint() -> dict[str, bytes]:
    """The kit's files a submission must never change, by content (new files included)."""
    files = {}
    for top in ("tests", "cassettes", "solutions", "embedlab"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and not (path.suffix == ".pyc" and MARKER not in path.name):
                files[str(path.relative_to(ROOT))] = path.read_bytes()
    for name in ("pyproject.toml", "conftest.py", "course.toml", "integrity.sha256"):
        files[name] = (ROOT / name).read_bytes()
    return files


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip("the hostile class uses Linux's /proc and fork")
    base = tmp_path_factory.mktemp("hostile")
    folder, out = base / "submissions", base / "grades.csv"
    witness = tmp_path_factory.mktemp("writable") / "witness.txt"  # a folder the grader does not protect
    listener = Listener()
    try:
        for name, changes in hostile(listener.port, out, witness).items():
            if name == "allocates-too-much" and not sys.platform.startswith("linux"):
                continue
            build(folder / name, ROOT / "solutions", changes)
        garbage = build(folder / "garbage-files", ROOT / "solutions", {}) / "exercises"
        os.mkfifo(garbage / "notes.py")
        os.symlink("/dev/zero", garbage / "zeros.py")
        os.symlink("/dev/zero", garbage / "data.txt")
        build(folder / "honest-solutions", ROOT / "solutions", {})
        build(folder / "honest-cosine-raises", ROOT / "solutions", {"similarity.py": COSINE_RAISES})
        twin = build(folder / "honest-no-challenges", ROOT / "solutions", {})
        (twin / "exercises" / "challenges.py").write_text("raise ImportError('not here')\n")
        build(folder / "honest-stubs", ROOT / "exercises", {})
        before = fingerprint()
        started = time.monotonic()
        done = run_cli("grade", str(folder), f"--out={out}", "--jobs=2", "--test-timeout=3", "--timeout=150", timeout=600)
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        rows = {row["submission"]: row for row in csv.DictReader(out.open())}
        gradebook = out.read_bytes()
        time.sleep(4)  # the detached process would have written by now
        after = fingerprint()
        left = strays()
        results_dir = out.with_name(out.stem + "-results")
        results = {p.stem: json.loads(p.read_text()) for p in results_dir.glob("*.json")}
        yield {
            "rows": rows, "results": results, "before": before, "after": after, "strays": left, "seconds": seconds,
            "gradebook_before": gradebook, "gradebook_after": out.read_bytes(), "witness": witness, "connections": listener.accepted,
        }  # fmt: skip
    finally:
        listener.close()
        kill_strays()


@pytest.mark.parametrize("name", sorted(TWINS))
def test_each_gets_exactly_what_its_honest_twin_gets(hostile_class, name):
    rows = hostile_class["rows"]
    row, twin = rows[name], rows[TWINS[name]]
    assert row["status"] == "graded", row
    assert (row["score"], row["max_score"]) == (twin["score"], twin["max_score"]), (row, twin)


def test_the_twins_are_what_they_should_be(hostile_class):
    rows = hostile_class["rows"]
    total = float(rows["honest-solutions"]["max_score"])
    assert float(rows["honest-solutions"]["score"]) == total > 0
    assert rows["honest-stubs"]["score"] == "0"
    assert 0 < float(rows["honest-no-challenges"]["score"]) < total and 0 < float(rows["honest-cosine-raises"]["score"]) < total


def test_the_kit_is_untouched_and_no_process_outlives_the_run(hostile_class):
    before, after = hostile_class["before"], hostile_class["after"]
    assert sorted(set(after) ^ set(before)) == [] and [k for k in before if before[k] != after[k]] == []
    assert hostile_class["strays"] == []
    assert hostile_class["gradebook_after"] == hostile_class["gradebook_before"]
    assert not hostile_class["witness"].exists()


def test_no_network_from_the_learners_code(hostile_class):
    assert hostile_class["connections"] == 0


def test_accidents_are_named_in_one_sentence(hostile_class):
    results = hostile_class["results"]

    def outputs(name: str, part: str) -> list[str]:
        return [t["output"] for t in results[name]["tests"] if part in t["extra_data"]["nodeid"]]

    assert all("signal 11, segmentation fault" in o for o in outputs("segfaults-in-cosine", "TestCosine"))
    assert all("SystemExit" in o for o in outputs("exits-in-cosine", "TestCosine"))
    assert all("Skipped" in o for o in outputs("skips-in-cosine", "TestCosine"))
    assert all("MemoryError" in o for o in outputs("allocates-too-much", "TestCosine"))
    hung = outputs("hangs-in-cosine", "TestCosine")
    assert hung and all("Stopped after 3 s" in o and "It was running exercises/similarity.py, line" in o for o in hung), hung
    assert all(", in cosine:" in o for o in hung), hung
    assert "imports solutions" in hostile_class["rows"]["unblocks-the-solutions"]["flags"]
    flags = hostile_class["rows"]["garbage-files"]["flags"]
    assert "skipped a special file (exercises/notes.py)" in flags and "skipped a symlink (exercises/zeros.py)" in flags


def test_an_endless_loop_is_waited_out_once(hostile_class):
    """Eight cosine tests and the callers of cosine (rank, the challenges): cosine's time limit is
    waited out once, and every later call that enters cosine stops there with the same sentence.
    (A loose bound on the whole class run, not a speed goal: that lives in benchmarks/.)"""
    callers = [t["output"] for t in hostile_class["results"]["hangs-in-cosine"]["tests"] if "TestRank" in t["extra_data"]["nodeid"]]
    assert callers and all("Stopped after 3 s" in o and ", in cosine:" in o for o in callers), callers
    assert hostile_class["seconds"] < 120


def test_plain_pytest_cannot_be_patched_from_the_exercises(tmp_path):
    folder = tmp_path / "kit-copy"
    build(folder, ROOT / "exercises", hostile(9, tmp_path / "x", tmp_path / "y")["patches-the-grader"])
    run = run_pytest("--live=off", f"--exercises-dir={folder / 'exercises'}", tmp_path=tmp_path, env=clean_env())
    assert run.code == 1 and run.results["score"] == 0, run.output


def test_the_learners_env_cannot_change_the_score(tmp_path):
    """With EMBED_MODEL (as a .env sets it), a rank that forgets to pass the model on still fails:
    the learner's code never sees the learner's settings while it is graded."""
    from .submissions import MISTAKES

    forgets = next(m for m in MISTAKES if m.name == "rank-forgets-to-pass-the-model")
    folder = build(tmp_path / "forgets", ROOT / "solutions", {forgets.file: forgets.source}) / "exercises"
    scores = []
    for env in (clean_env(), clean_env(EMBED_MODEL=SETS[0], OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="sk-x")):
        run = run_pytest("--live=off", f"--exercises-dir={folder}", tmp_path=tmp_path, env=env)
        assert run.code == 1, run.output
        scores.append(run.results["score"])
    assert scores[0] == scores[1] < run.results["max_score"]


def test_a_skip_in_the_learners_code_is_not_a_pass(tmp_path):
    folder = build(tmp_path / "skips", ROOT / "solutions", {"similarity.py": "def cosine(a, b):\n    import pytest\n    pytest.skip('later')\n"})
    run = run_pytest("--live=off", f"--exercises-dir={folder / 'exercises'}", tmp_path=tmp_path)
    assert run.code == 1 and run.results["score"] < run.results["max_score"], run.output
    assert "Everything passes" not in run.output


def test_without_namespaces_the_walls_still_hold(tmp_path):
    """--no-sandbox: Landlock, seccomp and the in-process walls (an audit hook refuses `import
    solutions`); as root with a Python only root can read, by --allow-root-worker."""
    folder = build(tmp_path / "k", ROOT / "exercises", hostile(9, tmp_path / "x", tmp_path / "y")["unblocks-the-solutions"])
    run = run_pytest("--live=off", "--no-sandbox", "--allow-root-worker", f"--exercises-dir={folder / 'exercises'}", tmp_path=tmp_path)
    assert run.results is not None, run.output
    assert run.results["score"] == 0 and "reference solutions" in run.output, run.output
    assert "missing: namespaces" in run.results["extra_data"]["isolation"], run.results["extra_data"]["isolation"]


def test_csv_cells_are_never_formulas_and_names_never_share_a_file():
    from embedlab.instructor.gradebook import cell, results_names

    for text in ("=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx"):
        assert cell(text).startswith("'")
    assert cell("alice") == "alice"
    names = results_names(["alice", "Alice", "a b", "a_b", "../etc", "..", ""])
    assert len(set(names.values())) == 7 and all("/" not in n and not n.startswith(".") for n in names.values())


def test_a_folder_without_init_is_graded_not_the_kits_stubs(tmp_path):
    """`--exercises-dir` names the folder to grade, even when it has no __init__.py and the kit's
    own exercises/ package is importable from where pytest runs."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    for path in (ROOT / "solutions").glob("*.py"):
        if path.name != "__init__.py":
            (folder / path.name).write_bytes(path.read_bytes())
    run = run_pytest("--live=off", f"--exercises-dir={folder}", tmp_path=tmp_path)
    assert run.code == 0 and run.results["score"] == run.results["max_score"], run.output


def test_a_killed_graders_scratch_folder_goes_with_the_next_grader(tmp_path):
    """SIGKILL leaves a grader no time to remove its scratch folder: the next one removes it, and
    leaves alone the folders of graders still running, links, and what is not its own kind."""
    import signal
    import subprocess

    env = clean_env(TMPDIR=str(tmp_path))
    start = "from embedlab.handle.learner import Learner; import sys, time; print(Learner(sys.argv[1])._scratch, flush=True); time.sleep(60)"
    killed = subprocess.Popen([sys.executable, "-c", start, str(ROOT / "solutions")], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    running = subprocess.Popen([sys.executable, "-c", start, str(ROOT / "solutions")], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        left, alive = Path(killed.stdout.readline().strip()), Path(running.stdout.readline().strip())
        (left / "big.bin").write_bytes(b"x" * 1024)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "keep.txt").write_text("mine")
        (tmp_path / f"embedlab-worker-{killed.pid}-link").symlink_to(outside)
        (tmp_path / "embedlab-worker-notapid").mkdir()
        assert left.is_dir() and alive.is_dir()
        done = subprocess.run([sys.executable, "-c", start.replace("time.sleep(60)", "pass"), str(ROOT / "solutions")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert not left.exists(), "the killed grader's scratch folder is still there"
        assert alive.is_dir(), "the folder of a grader still running was removed"
        assert (outside / "keep.txt").read_text() == "mine" and (tmp_path / "embedlab-worker-notapid").is_dir()
        assert Path(done.stdout.strip()).name.startswith("embedlab-worker-")
    finally:
        from embedlab.handle.sweep import remove_folder

        for process in (killed, running):
            process.kill()
            process.wait(timeout=10)
        for folder in tmp_path.glob("embedlab-worker-*"):  # as the next grader would: a root grader's scratch is a tmpfs
            if not folder.is_symlink():
                remove_folder(folder)


def test_a_warmed_spare_worker_is_new_and_never_outlives_its_learner(tmp_path):
    """warm_spare() starts the next worker early; fresh_worker() hands it over as a process no
    learner code has run in, and an unused spare ends with the learner. (In a process of its own:
    a Learner makes its process a subreaper, which must not outlast this test in pytest's.)"""
    package = tmp_path / "kit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "counter.py").write_text("import os\nCALLS = []\n\n\ndef count():\n    CALLS.append(1)\n    return len(CALLS)\n")
    script = textwrap.dedent(
        f"""
        import json, os, time
        from embedlab.handle.learner import Learner
        from embedlab.handle.sweep import process_table

        def mine():
            table, found, todo = process_table(), set(), [os.getpid()]
            while todo:
                parent = todo.pop()
                for pid, ppid in table.items():
                    if ppid == parent and pid not in found:
                        found.add(pid)
                        todo.append(pid)
            return found

        learner = Learner({str(package)!r}, timeout=20)
        count = learner.function("counter", "count")
        seen = [count(), count()]
        learner.warm_spare()
        spare = learner._spare[0]
        learner.fresh_worker()
        handed = learner._worker is spare
        seen.append(count())
        learner.warm_spare()  # never handed over
        learner.close()
        deadline = time.monotonic() + 5
        while mine() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(json.dumps({{"seen": seen, "handed": handed, "left": sorted(mine())}}))
        """
    )
    done = subprocess_run(script)
    assert done["seen"] == [1, 2, 1], "the handed-over worker had run the learner's code before"
    assert done["handed"], "fresh_worker() started another worker instead of the spare"
    assert done["left"] == [], "a worker outlived its learner"


def subprocess_run(script: str) -> dict:
    import subprocess

    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
