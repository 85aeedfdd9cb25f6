"""Issue 20: a learner who attacks the grader gets what the honest parts of their code earn, and
harms no one else — with namespaces, and without them as root with the worker's own user.

Each numbered attack of the issue is here, built small: a scratch venv (Debian's python3.11 with
a copy of numpy, the kit's packages through a .pth) that a plant may target, never the kit's own
.venv; frames a few MB over a lower limit; 300 sleepers under a lower process limit. Every run has
a time limit, its processes carry MARKER and are killed at the end, and what the attacks target
is fingerprinted before and after.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, clean_env, kill_carrying, processes_carrying
from .submissions import build

MARKER = f"embedlab-attack-{uuid.uuid4().hex[:12]}"
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
ROOT_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="as root on Linux, as on Gradescope")
BATCH_VS_LOOP_RAISES = "def batch_vs_loop(texts, *, client=None, model=None):\n    raise RuntimeError('not today')\n"
MODES = {"namespaces": {}, "no namespaces, own user": {"EMBEDLAB_NO_NAMESPACES": "1"}}


# -- the scaffolding -----------------------------------------------------------------------------


def strays() -> list[int]:
    """Processes still running that a hostile submission started (they carry MARKER)."""
    return processes_carrying(MARKER)


def kill_strays() -> None:
    kill_carrying(MARKER)


def fingerprint(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def scratch():
    """A folder the worker's user can reach (pytest's own are its owner's only), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="embedlab-attacks-"))
    os.chmod(folder, 0o755)
    yield folder
    kill_strays()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def venv(scratch) -> Path:
    """A scratch venv the worker's user can read (its Python is not under /root): numpy copied in,
    the rest of the kit's packages through a .pth. The plant targets its numpy."""
    if not DEBIAN_PYTHON.exists():
        pytest.skip("needs /usr/bin/python3.11 for a venv outside /root")
    folder = scratch / "venv" / "embedlab-venv"
    folder.parent.mkdir()
    subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    ours = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "numpy").is_dir()))
    from embedlab.handle.users import unreachable, worker_user

    user = worker_user()
    closed = user and unreachable([ours, ROOT], user[0], user[1])
    if closed:  # the worker could not drop to its user: these tests would grade with walls the kit says are down
        pytest.skip(f"the worker's user ({user[2]}) cannot read {closed}: clone the kit where every user can read it")
    site = folder / "lib" / "python3.11" / "site-packages"
    for name in ("numpy", "numpy.libs"):
        if (ours / name).is_dir():
            shutil.copytree(ours / name, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "zz-kit.pth").write_text(f"import site; site.addsitedir({str(ours)!r})\n")
    os.chmod(folder.parent, 0o755)
    return folder


def limited():
    """For a run's process: files it writes capped, no core files."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024**2, 256 * 1024**2))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(command: list[str], *, env: dict, cwd: Path = ROOT, timeout: float = 240) -> tuple[int, str, float]:
    """Run `command` in its own session with a time limit; everything it leaves is killed."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=limited
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n[killed after {timeout} s]"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_strays()
    return process.returncode, output, time.monotonic() - started


def lost_points(results: dict, time_limits_too: bool = False) -> list[str]:
    """The failed checks of a full-marks submission, but for the ones that time the learner's
    code against a reference (a machine busy with other work can fail those; no attack is needed)
    and, with `time_limits_too`, the ones stopped at their time limit."""

    def excused(output: str) -> bool:
        return (" took " in output and " ms" in output) or (time_limits_too and output.startswith("failed: Stopped after"))

    return [f"{t['name']}: {t['output'][:300]}" for t in results["tests"] if t.get("status") == "failed" and not excused(t.get("output", ""))]


def peak_megabytes() -> float:
    """The largest resident size of any process this one has waited for (its descendants too)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def grade_one(exercises: Path, tmp_path: Path, *extra: str, python: str = sys.executable, env_extra: dict | None = None, timeout: float = 240):
    """One plain pytest run; also checks that the grading process imported no module file after
    the learner's code first ran (a file a worker could have planted in: see grading/preload.py)."""
    report = tmp_path / f"results-{uuid.uuid4().hex[:6]}.json"
    audit = tmp_path / f"imports-{uuid.uuid4().hex[:6]}.jsonl"
    env = clean_env(EMBEDLAB_IMPORT_AUDIT=str(audit), **(env_extra or {}))
    code, output, seconds = run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "--live=off", f"--grade-json={report}", f"--exercises-dir={exercises}", *extra],
        env=env, timeout=timeout,
    )  # fmt: skip
    results = json.loads(report.read_text()) if report.exists() else None
    late = [name for line in (audit.read_text().splitlines() if audit.exists() else []) for name in json.loads(line)]
    assert late == [], f"imported after the learner's code ran: {late}"
    return results, output, seconds


# -- 1. a writable interpreter -------------------------------------------------------------------


def plant(target_root: Path, forge: bool) -> str:
    """At import: prepend code to numpy/random/__init__.py (and the grader's report module) under
    `target_root` that makes every check pass (forge) or fail (the reverse plant)."""
    if forge:
        planted = (
            "try:\n    import embedlab.grading.report as _r\n    _o = _r.Scorecard.gradescope\n"
            "    def _f(self, *a, **k):\n        d = _o(self, *a, **k)\n        d['score'] = d['max_score']\n"
            "        for t in d.get('tests', []):\n            t['status'] = 'passed'; t['score'] = t.get('max_score', 0)\n"
            "        return d\n    _r.Scorecard.gradescope = _f\nexcept Exception:\n    pass\n"
        )
    else:
        planted = "try:\n    import embedlab.grading.report as _r\n    _r.Scorecard.gradescope = lambda self, *a, **k: {'score': 0}\nexcept Exception:\n    pass\n"
    return textwrap.dedent(f"""
        import importlib.util, os
        ROOT = {str(target_root)!r}
        PLANTED = {planted!r}
        for name in ("numpy.random", "numpy", "embedlab.grading.report", "embedlab.handle.learner"):
            try:
                origin = os.path.realpath(importlib.util.find_spec(name).origin)
                if origin.startswith(ROOT + os.sep):
                    with open(origin) as handle:
                        text = handle.read()
                    with open(origin, "w") as handle:
                        handle.write(PLANTED + text)
            except Exception:
                pass
        """)


def gradescope_tree(tmp_path: Path, venv: Path, submission: Path) -> Path:
    """The zip `embedlab gradescope` writes, unpacked as Gradescope does, with the scratch venv."""
    root = tmp_path / "autograder"
    zip_path = tmp_path / "autograder.zip"
    code, output, _ = run([sys.executable, "-m", "embedlab", "gradescope", str(zip_path), "--timeout", "60", "--test-timeout", "3"], env=clean_env())
    assert code == 0, output
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777 or 0o644)
    for path in [root, *(p for p in (root / "source").rglob("*") if p.is_dir())]:
        os.chmod(path, 0o755)
    shutil.copytree(submission, root / "submission")
    os.symlink(venv, root / "embedlab-venv")
    return root


@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_1_a_plant_in_the_venv_or_the_kit_changes_nothing(venv, scratch, tmp_path, mode):
    """The stubs plus a plant: as the Gradescope tree's run_autograder grades them, they get the
    stubs' 0, and the venv's numpy and the tree's kit stay byte for byte the same."""
    submission = build(tmp_path / "attacker", ROOT / "exercises", {})
    (submission / "exercises" / "__init__.py").write_text(plant(scratch, forge=True))
    tree = scratch / f"tree-{uuid.uuid4().hex[:6]}"
    tree.mkdir(mode=0o755)
    root = gradescope_tree(tree, venv, submission / "exercises")
    targets = (venv / "lib" / "python3.11" / "site-packages" / "numpy", root / "source" / "kit" / "embedlab")
    before = fingerprint(*targets)
    env = clean_env(EMBEDLAB_AUTOGRADER_ROOT=str(root), **MODES[mode])
    code, output, seconds = run([str(root / "source" / "run_autograder")], env=env, cwd=root)
    results = json.loads((root / "results" / "results.json").read_text())
    assert code == 0 and results["score"] == 0 < results["max_score"], output  # the stubs' 0
    assert fingerprint(*targets) == before
    isolation = results["extra_data"]["isolation"]
    standing = isolation.split(";")[0]
    assert isolation.startswith("walls:") and "user" in standing and ("namespaces" in standing) == (mode == "namespaces"), isolation
    assert strays() == [] and seconds < 90


# -- 2. results forged through the grading process's pipe, then its death -------------------------

FORGER = textwrap.dedent("""
    import json, os, signal, stat
    forged = json.dumps({"score": 49, "max_score": 49, "tests": [], "extra_data": {"exercises": {}}}).encode()
    parent = os.getppid()
    if parent > 1:
        try:
            for fd in os.listdir(f"/proc/{parent}/fd"):
                try:
                    path = f"/proc/{parent}/fd/{fd}"
                    if stat.S_ISFIFO(os.stat(path).st_mode):
                        out = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                        os.write(out, forged)
                        os.close(out)
                except OSError:
                    pass
        except OSError:
            pass
        try:
            os.kill(parent, signal.SIGKILL)
        except OSError:
            pass
    """)


@ROOT_ONLY
@pytest.mark.parametrize("mode", [*MODES, "root by flag, no namespaces"])
def test_2_results_written_into_the_graders_pipe_are_never_accepted(venv, tmp_path, mode):
    """`embedlab autograde` of the stubs plus the forger. Behind either wall it reaches nothing and
    gets the stubs' 0 — also as root by --allow-root-worker without namespaces, where Landlock and
    seccomp alone keep it from its grading process's descriptors and signals."""
    submission = build(tmp_path / "forger", ROOT / "exercises", {"challenges.py": FORGER}) / "exercises"
    env = {**MODES.get(mode, {"EMBEDLAB_NO_NAMESPACES": "1", "EMBEDLAB_WORKER_USER": "off", "EMBEDLAB_ALLOW_ROOT_WORKER": "1"})}
    results_path = tmp_path / "results.json"
    command = [str(venv / "bin" / "python"), "-m", "embedlab", "autograde", str(submission), "--results", str(results_path), "--test-timeout", "3"]
    code, output, _ = run(command, env=clean_env(**env))
    results = json.loads(results_path.read_text())
    assert code == 0 and results["score"] == 0 < results["max_score"], output
    assert results["extra_data"]["status"] == "graded", results["extra_data"]
    if mode not in MODES:
        assert "AS ROOT" in results["extra_data"]["isolation"], results["extra_data"]
    assert strays() == []


@ROOT_ONLY
def test_2_without_the_flag_a_root_only_worker_is_refused_in_one_sentence(venv, tmp_path):
    submission = build(tmp_path / "forger", ROOT / "exercises", {"challenges.py": FORGER}) / "exercises"
    results_path = tmp_path / "results.json"
    command = [str(venv / "bin" / "python"), "-m", "embedlab", "autograde", str(submission), "--results", str(results_path)]
    code, output, _ = run(command, env=clean_env(EMBEDLAB_NO_NAMESPACES="1", EMBEDLAB_WORKER_USER="off"))
    assert code == 2 and not results_path.exists(), output
    assert "will not grade here" in output and "--allow-root-worker" in output, output


# -- 3 and 4. signals and many processes, in a class -----------------------------------------------


def _up_the_chain(action: str) -> str:
    """Code that finds the grading process and the runner above the worker and `action`s them."""
    return textwrap.dedent(f"""
        import os, signal
        def _chain():
            found, pid = [], os.getppid()
            while pid > 1 and len(found) < 2:
                found.append(pid)
                try:
                    with open(f"/proc/{{pid}}/stat") as handle:
                        pid = int(handle.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    break
            return found
        for _pid in _chain():
            try:
                os.kill(_pid, signal.{action})
            except OSError:
                pass
        """)


SIBLING_STOPPER = textwrap.dedent(f"""
    import os, subprocess, sys
    code = '''
    import os, signal, sys, time
    runner = int(sys.argv[1])
    mine = set()
    pid = os.getppid()
    end = time.time() + 25
    while time.time() < end:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{{entry}}/stat") as handle:
                        parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                    if parent == runner and int(entry) != int(sys.argv[2]):
                        os.kill(int(entry), signal.SIGSTOP)
                except (OSError, ValueError):
                    pass
        time.sleep(0.05)
    '''
    grading = os.getppid()
    runner = 0
    try:
        with open(f"/proc/{{grading}}/stat") as handle:
            runner = int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        pass
    if grading > 1 and runner > 1:
        subprocess.Popen([sys.executable, "-c", code, str(runner), str(grading), {MARKER!r}], start_new_session=True)
    """)

SAME_USER_STOPPER = textwrap.dedent(f"""
    import os, signal, subprocess, sys
    code = '''
    import os, signal, time
    me, end = os.getuid(), time.time() + 25
    while me != 0 and time.time() < end:  # never as root: behind no wall it would stop the machine
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (os.getpid(), os.getppid()):  # not itself, nor its own worker
                try:
                    if os.stat(f"/proc/{{entry}}").st_uid == me and b"embedlab" in open(f"/proc/{{entry}}/cmdline", "rb").read():
                        os.kill(int(entry), signal.SIGSTOP)
                except OSError:
                    pass
        time.sleep(0.05)
    '''
    subprocess.Popen([sys.executable, "-c", code, {MARKER!r}], start_new_session=True)
    """)

MANY_SLEEPERS = textwrap.dedent(f"""
    import subprocess
    for _ in range(300):
        try:
            subprocess.Popen([{MARKER!r}, "60"], executable="/bin/sleep", start_new_session=True)
        except OSError:
            break
    """)


def attackers() -> dict[str, dict[str, str]]:
    """The solutions plus an attack that runs when challenges.py is imported: it costs nothing."""
    return {
        "kills-its-grader-and-runner": {"challenges.py": _up_the_chain("SIGKILL")},
        "stops-its-grader-and-runner": {"challenges.py": _up_the_chain("SIGSTOP")},
        "stops-its-classmates": {"challenges.py": SIBLING_STOPPER},
        "stops-its-own-users-processes": {"challenges.py": SAME_USER_STOPPER},
        "starts-300-sleepers": {"challenges.py": MANY_SLEEPERS},
    }


@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_3_4_signals_and_many_processes_harm_no_one(venv, tmp_path, mode):
    """A class of five attackers (signals up the chain, daemons stopping its classmates' grading
    processes or its own user's, 300 sleepers under a process limit of 64) and three honest learners, graded with
    --jobs 2, plus a reverse plant in the venv: every one of them gets full marks, in bounded time,
    and nothing outlives the run."""
    folder = tmp_path / "class"
    for name, changes in attackers().items():
        build(folder / name, ROOT / "solutions", changes)
    planter = build(folder / "plants-zeros", ROOT / "solutions", {})
    (planter / "exercises" / "__init__.py").write_text(plant(venv, forge=False))
    for n in range(3):
        build(folder / f"honest-{n}", ROOT / "solutions", {})
    before = fingerprint(venv / "lib" / "python3.11" / "site-packages" / "numpy")
    out = tmp_path / "grades.csv"
    env = clean_env(EMBEDLAB_WORKER_PROCESSES="64", **MODES[mode])
    command = [str(venv / "bin" / "python"), "-m", "embedlab", "grade", str(folder), f"--out={out}", "--jobs=2", "--test-timeout=3", "--timeout=60"]
    code, output, seconds = run(command, env=env, timeout=240)
    assert code == 0, output
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert len(rows) == 9, rows
    for name, row in rows.items():
        results = json.loads((tmp_path / "grades-results" / f"{name}.json").read_text())
        lost = lost_points(results, time_limits_too=name == "starts-300-sleepers")  # its own sleepers hold its process budget
        assert row["status"] == "graded" and lost == [], (name, row, lost, output[-2000:])
        assert "not isolated" not in row["flags"], row
    assert fingerprint(venv / "lib" / "python3.11" / "site-packages" / "numpy") == before
    assert strays() == [] and seconds < 150, seconds


@ROOT_ONLY
def test_a_killed_runner_leaves_what_it_graded_and_no_grader_behind(tmp_path):
    folder = tmp_path / "class"
    for n in range(4):
        build(folder / f"learner-{n}", ROOT / "solutions", {})
    out = tmp_path / "grades.csv"
    command = [sys.executable, "-m", "embedlab", "grade", str(folder), f"--out={out}", "--jobs=1"]
    scratch = tmp_path / "tmp"  # the killed runner's scratch folders go with this test's
    scratch.mkdir()
    env = clean_env(TMPDIR=str(scratch))
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and len(out.read_text().splitlines()) >= 3):
            time.sleep(0.1)
        children = [int(e) for e in os.listdir("/proc") if e.isdigit() and _parent(int(e)) == process.pid]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        rows = list(csv.DictReader(out.open()))
        assert len(rows) >= 2 and all(r["status"] == "graded" for r in rows), rows
        for name in (r["submission"] for r in rows):
            results = json.loads((tmp_path / "grades-results" / f"{name}.json").read_text())
            assert results["max_score"] > 0 and lost_points(results) == [], lost_points(results)
        time.sleep(1.0)
        assert [c for c in children if Path(f"/proc/{c}").exists() and _state(c) != "Z"] == []
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        from embedlab.handle.sweep import remove_folder

        for left in scratch.rglob("embedlab-worker-*"):  # a root grader's scratch is a tmpfs: unmounted, as the next grader would
            if left.is_dir() and not left.is_symlink():
                remove_folder(left)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


# -- 5 and 6. what crosses the channel -------------------------------------------------------------

CHANNEL = textwrap.dedent("""
    import json, os, stat, struct, sys

    def _channel():
        for fd in range(3, 64):
            try:
                info = os.fstat(fd)
                import fcntl
                if stat.S_ISFIFO(info.st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                    return fd
            except OSError:
                pass

    def _call_id():
        frame = sys._getframe()
        while frame is not None:
            message = frame.f_locals.get("message")
            if isinstance(message, dict) and message.get("op") == "call":
                return message["id"]
            frame = frame.f_back

    def _write(data):
        fd = _channel()
        view = memoryview(struct.pack(">I", len(data)) + data)
        while view:
            view = view[os.write(fd, view):]
    """)

FRAME_LIMIT = 2 * 1024 * 1024
CHANNEL_ATTACKS = {
    "a-frame-over-the-limit": "_write(b'[' + b'1,' * (FRAME_LIMIT // 2 + 1024 * 1024) + b'1]')",
    "too-many-values": "_write(b'{\"op\":\"result\",\"id\":' + str(_call_id()).encode() + b',\"value\":' + b'[' * 1_100_000 + b'}')",
    "many-opaque-type-names": (
        "_write(json.dumps({'op': 'result', 'id': _call_id(), 'value': [{'$opaque': {'type': f'T{i}', 'repr': ''}} for i in range(30_000)]}).encode())"
    ),
    "a-frame-of-empty-lists": "_write(b'{\"op\":\"result\",\"id\":' + str(_call_id()).encode() + b',\"value\":[' + b'[],' * 600_000 + b'[]]}')",
    "errors-with-huge-locations": (
        "for _ in range(25):\n"
        "        _write(json.dumps({'op': 'error', 'id': _call_id(), 'error': {'types': ['ValueError'], 'message': 'm' * 300_000, 'location': 'x' * 1_000_000}}).encode())"
    ),
    "over-2048-inputs": "client.embeddings.create(model=model, input=['a cat'] * 5000)",
    "over-300000-tokens": "client.embeddings.create(model=model, input=['a cat sat on the mat ' * 80] * 800)",
    "http-frames-then-holds-the-channel": (
        "for n in range(4000):\n"
        "        _write(json.dumps({'op': 'http', 'id': 10_000 + n, 'client': -1, 'method': 'GET', 'url': 'https://x/v1/models', 'headers': [], 'body': ''}).encode())\n"
        "    import re\n"
        "    re.match(r'(a+)+$', 'a' * 40 + 'b')"
    ),
}


def channel_attacker(tmp_path: Path, name: str) -> Path:
    body = CHANNEL_ATTACKS[name].replace("FRAME_LIMIT", str(FRAME_LIMIT))
    body = body.replace("\n", "\n    ")
    once = "if not os.path.exists('.attacked'):  # once: each attack costs the grader a fresh worker\n        open('.attacked', 'w').close()\n        "
    source = CHANNEL + f"\n\ndef batch_vs_loop(texts, *, client=None, model=None):\n    {once}{body}\n    raise RuntimeError('attacked')\n"
    return build(tmp_path / name, ROOT / "solutions", {"challenges.py": source}) / "exercises"


@pytest.fixture(scope="module")
def honest_twin(tmp_path_factory) -> dict:
    folder = build(tmp_path_factory.mktemp("twin") / "twin", ROOT / "solutions", {"challenges.py": BATCH_VS_LOOP_RAISES})
    results, output, _ = grade_one(folder / "exercises", tmp_path_factory.mktemp("twin-results"), "--grade-timeout=3")
    assert results is not None and 0 < results["score"] < results["max_score"], output  # all but batch_vs_loop
    return results


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: the worker's channel is found in /proc")
@pytest.mark.parametrize("name", CHANNEL_ATTACKS)
def test_5_6_the_channel_is_bounded(tmp_path, honest_twin, name):
    """batch_vs_loop attacks the grading process through its channel (frames over the limit, too
    many values, type names or locations, requests over the endpoint's limits, a flood of HTTP
    frames while it stops reading): the grading process stays small and on time, the attacker
    gets its honest twin's score (the rest of its code is the solutions), and its report stays small."""
    exercises = channel_attacker(tmp_path, name)
    env = {"EMBEDLAB_FRAME_LIMIT": str(FRAME_LIMIT)}
    results, output, seconds = grade_one(exercises, tmp_path, "--grade-timeout=3", env_extra=env)
    assert results is not None, output
    assert (results["score"], results["max_score"]) == (honest_twin["score"], honest_twin["max_score"]), output
    failed = [t["output"] for t in results["tests"] if t["extra_data"]["exercise"] == "batch_vs_loop"]
    if name.startswith(("a-frame", "too-many")):
        assert any("your code wrote to the grader's channel" in o for o in failed), failed
    if name.startswith("errors"):
        assert any("raised ValueError: mmm" in o for o in failed) and all(len(o) < 5000 for o in failed), failed
    if name.startswith("over-"):
        assert any("400" in o for o in failed), failed
    assert len(json.dumps(results)) < 200_000
    assert seconds < 60, seconds
    assert peak_megabytes() < 800
    assert strays() == []


# -- 7. the answers a learner is judged against are worked out where its code cannot reach ---------

# Grader code still runs in the worker (a matrix built there, a reference timed there), so a
# learner's module can reach it: these patch numpy and sqlite3 for every caller but themselves.
REACH = textwrap.dedent("""
    import sys as _sys
    import numpy as _np
    import sqlite3 as _sqlite3

    def _from_outside():
        return _sys._getframe(2).f_code.co_filename != __file__

    def _patch(owner, name, make):
        real = getattr(owner, name)
        def patched(*args, **kwargs):
            if _from_outside():
                return make(real, *args, **kwargs)
            return real(*args, **kwargs)
        setattr(owner, name, patched)
""")
POISON = REACH + textwrap.dedent("""
    def _garbage(real, *args, **kwargs):
        out = _np.asarray(real(*args, **kwargs))
        return out[::-1] * 0 if out.dtype.kind in "iuf" else out

    for _name in ("argpartition", "lexsort", "argsort", "einsum", "triu_indices", "matmul", "dot"):
        if _name == "triu_indices":
            _patch(_np, _name, lambda real, *a, **k: tuple(_np.zeros(0, dtype=int) for _ in real(*a, **k)))
        else:
            _patch(_np, _name, _garbage)
    _patch(_np.linalg, "norm", _garbage)
    _patch(_sqlite3, "connect", lambda real, *a, **k: (_ for _ in ()).throw(_sqlite3.OperationalError("poisoned")))
""")
FORGE = REACH + textwrap.dedent("""
    import time as _time

    def _slow(real, *args, **kwargs):
        _time.sleep(1.5)  # the reference timed in the worker now looks slower than a loop
        return real(*args, **kwargs)

    def _shadow(real, database, *args, **kwargs):
        if isinstance(database, str) and database.startswith("file:") and "mode=ro" in database:
            database = database.replace(".db?", ".db.shadow?", 1)  # the grader reads a clean copy
        return real(database, *args, **kwargs)

    _patch(_np, "argsort", _slow)
    _patch(_sqlite3, "connect", _shadow)
""")


def _mistake(name: str) -> str:
    from .submissions import MISTAKES

    return next(m.source for m in MISTAKES if m.name == name)


def _beyond(results: dict) -> dict[str, str]:
    """The failed checks of the beyond part (exercises/applications.py), by node id."""
    beyond = ("test_5_top_k", "test_6_vector_store", "test_7_near_duplicates", "test_8_classify")
    tests = [t for t in results["tests"] if any(m in t["extra_data"]["nodeid"] for m in beyond)]
    assert tests, "no check of the beyond part ran"
    return {t["extra_data"]["nodeid"]: t.get("output", "") for t in tests if t.get("status") == "failed"}


def test_7_a_learner_cannot_shape_the_answers_it_is_judged_against(tmp_path):
    """Expected answers and the file a store wrote are worked out in the grading process: a
    correct submission that poisons numpy and sqlite3 for all code but its own still gets every
    point of the beyond part (timing checks excused), and a slow loop and a pickling store that
    slow down the worker's reference and show the grader a clean copy of the file lose their points."""
    poisoned = build(tmp_path / "poisoned", ROOT / "solutions", {"applications.py": POISON}) / "exercises"
    results, output, _ = grade_one(poisoned, tmp_path, "--grade-timeout=10")
    assert results is not None, output
    assert [n for n, o in _beyond(results).items() if " took " not in o] == [], output[-3000:]

    pickles = _mistake("store-pickles-the-vectors").replace(
        "        return len(new)\n",
        "        shadow = sqlite3.connect(self.path + '.shadow')\n"
        "        shadow.execute('CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)')\n"
        "        shadow.executemany('INSERT OR IGNORE INTO vectors (text, model, vector) VALUES (?, ?, ?)',\n"
        "                           [(t, self.model, v.astype('<f4').tobytes()) for t, v in zip(new, vectors)])\n"
        "        shadow.commit()\n        shadow.close()\n        return len(new)\n",
        1,
    ).replace("self.db = sqlite3.connect(path)", "self.path = os.fspath(path)\n        self.db = sqlite3.connect(path)", 1)
    assert "shadow" in pickles and "self.path =" in pickles
    forged = build(tmp_path / "forged", ROOT / "solutions", {"applications.py": _mistake("top-k-loops-over-rows") + "\n\n" + pickles + FORGE}) / "exercises"
    results, output, _ = grade_one(forged, tmp_path, "--grade-timeout=10")
    assert results is not None, output
    failed = _beyond(results)
    loop = [o for n, o in failed.items() if "python_loop" in n]
    assert loop and "Python loop over the rows" in loop[0], failed
    store = [o for n, o in failed.items() if "not_pickle" in n]
    assert store and "pickled vectors" in store[0], failed
