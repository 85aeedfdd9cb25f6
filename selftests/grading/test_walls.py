"""Issue 25: the worker's walls, attacked by class, from inside the learner's own code.

A learner's function here is a probe: it tries, in the worker, every way out of one class of
walls that we could think of (what it can read, what it inherited, who it is, what classmates
share, the network, signals and ptrace), and returns what got through. Each probe runs behind the
walls a real grading run raises — bubblewrap's namespaces, and without them Landlock and seccomp
alone (as in Docker, where new namespaces are forbidden) — and must come back empty-handed.

Bounded: every run has a time limit and its own temporary folder; canary servers listen on
loopback only and stop with the test; what a probe writes is capped by the walls under test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_attacks import scratch, venv  # noqa: F401 - fixtures: a venv every user can read

LINUX_ROOT = sys.platform.startswith("linux") and os.geteuid() == 0
CANARY = f"sk-canary-{uuid.uuid4().hex}"
NO_NAMESPACES = {"EMBEDLAB_NO_NAMESPACES": "1"}
MODES = {  # (environment, the grader's user: None for root, "nobody" for a grader that is not root, Python: ours or a venv every user can read)
    "namespaces": ({}, None, "ours"),
    "landlock and seccomp alone, root by flag": ({**NO_NAMESPACES, "EMBEDLAB_ALLOW_ROOT_WORKER": "1"}, None, "ours"),
    "landlock and seccomp alone, own user": (NO_NAMESPACES, None, "venv"),
    "a grader that is not root, user namespaces": ({}, 65534, "venv"),
    "a grader that is not root, no namespaces": (NO_NAMESPACES, 65534, "venv"),
}
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the walls are Linux's")

PROBE = '''
import ctypes, errno, json, os, signal, socket, subprocess, sys

def attempt(what):
    try:
        got = what()
        return "GOT: " + repr(got)[:200]
    except BaseException as err:
        return "refused: " + type(err).__name__

def read(path):
    with open(path, "rb") as handle:
        return handle.read(200)

def listdir(path):
    return os.listdir(path)[:5]

def write(path, data=b"x"):
    with open(path, "wb") as handle:
        handle.write(data)
    return "written"

def fill(path, megabytes):
    """Files of 32 MB (under the per-file limit) until `megabytes` or the disk says no."""
    chunk = b"\\0" * (1024 * 1024)
    written = 0
    try:
        for number in range(megabytes // 32):
            with open(f"{path}-{number}", "wb") as handle:
                for _ in range(32):
                    handle.write(chunk)
                    handle.flush()
                    written += 1
    except OSError:
        pass
    for number in range(megabytes // 32):
        try:
            os.remove(f"{path}-{number}")
        except OSError:
            pass
    return written

def connect_tcp(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return s.recv(100)

def connect_unix(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(address)
    return s.recv(100)

def libc_connect(port):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "socket")
    addr = (ctypes.c_ubyte * 16)(2, 0, port >> 8, port & 255, 127, 0, 0, 1)
    if libc.connect(fd, addr, 16) != 0:
        raise OSError(ctypes.get_errno(), "connect")
    return os.read(fd, 100)

def child_connect(port):
    code = f"import socket; print(socket.create_connection(('127.0.0.1', {port}), timeout=2).recv(100))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
    if done.returncode:
        raise OSError("child failed")
    return done.stdout

def ptrace(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
    return "attached"

def unshare():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    return "a new user namespace"

def setuid0():
    os.setuid(0)
    return "root"

def root_powers():
    with open("mine", "wb"):
        pass
    os.chown("mine", 1, 1)  # CAP_CHOWN
    return "chowned"

def forks(limit):
    children = []
    try:
        for _ in range(limit):
            pid = os.fork()
            if pid == 0:
                import time
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return len(children)

def inotify(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0 or libc.inotify_add_watch(fd, path.encode(), 0xFFF) < 0:
        raise OSError(ctypes.get_errno(), "inotify")
    return "watching"

def sysv():
    libc = ctypes.CDLL(None, use_errno=True)
    queue = libc.msgget(0x454D42, 0o600)  # one made by the grader (root), if it is there
    if queue < 0:
        raise OSError(ctypes.get_errno(), "msgget")
    return queue

def probe(args, *, client=None, model=None):
    """Every way out we tried, and what came back (the embed() of an attacker)."""
    paths, ports, unix_path, abstract, grader, tmp_other = args
    found = {}
    for name, path in paths.items():
        found["read " + name] = attempt(lambda p=path: read(p) if os.path.isfile(p) else listdir(p))
    try:
        environ = open("/proc/self/environ", "rb").read().decode("latin-1")
    except OSError:
        environ = ""  # not dumpable (it changed user): the kernel's copy is not even its own to read
    found["environ"] = CANARY_IN(environ + json.dumps(dict(os.environ)))
    found["uid"] = os.getuid()
    try:
        found["uid_map"] = open("/proc/self/uid_map").read().split()
    except OSError:
        found["uid_map"] = None
    found["write sysctl"] = attempt(lambda: write("/proc/sys/kernel/ns_last_pid", b"1"))
    found["list /sys"] = attempt(lambda: listdir("/sys/kernel"))
    found["write kit"] = attempt(lambda: write(paths["kit pyproject"] + ".planted"))
    found["write classmate folder"] = attempt(lambda: write(os.path.join(tmp_other, "planted")))
    found["tcp loopback"] = attempt(lambda: connect_tcp(ports))
    found["tcp loopback, libc"] = attempt(lambda: libc_connect(ports))
    found["tcp loopback, child"] = attempt(lambda: child_connect(ports))
    found["unix socket file"] = attempt(lambda: connect_unix(unix_path))
    found["abstract unix socket"] = attempt(lambda: connect_unix("\\0" + abstract))
    found["signal the grader"] = attempt(lambda: os.kill(grader, signal.SIGCONT))
    found["ptrace the grader"] = attempt(lambda: ptrace(grader))
    found["grader memory"] = attempt(lambda: write(f"/proc/{grader}/mem"))
    found["grader environ"] = attempt(lambda: read(f"/proc/{grader}/environ"))
    found["new user namespace"] = attempt(unshare)
    found["become root"] = attempt(setuid0) if os.getuid() else "refused: root by flag, no powers"
    found["root's powers"] = attempt(root_powers)
    found["chmod a root file"] = attempt(lambda: os.chmod(paths["root's file"], 0o4777))
    found["inotify on a classmate"] = attempt(lambda: inotify(tmp_other))
    found["the grader's message queue"] = attempt(sysv)
    found["fork bomb"] = attempt(lambda: forks(400))
    found["fill tmp"] = attempt(lambda: fill(os.path.join(os.environ.get("TMPDIR", "/tmp"), "big"), 400))
    found["fill shm"] = attempt(lambda: fill("/dev/shm/big", 400)) if os.path.isdir("/dev/shm") else "refused: none"
    found["fill scratch"] = attempt(lambda: fill("big", 400))
    return found
'''


@pytest.fixture
def base():
    """A folder every user can reach (pytest's own are root's only), removed after."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="embedlab-walls-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def canaries(base):
    tmp_path = base
    """A classmate's folder, a .env, a secret in the environment, a TCP server, a unix socket
    file and an abstract unix socket, each answering with the canary; all stop with the test."""
    classmate = tmp_path / "classmate"
    classmate.mkdir()
    (classmate / "embed.py").write_text(f"SECRET = {CANARY!r}\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(classmate, 0o777)
    servers = []

    def serve(sock):
        sock.listen(8)
        sock.settimeout(0.2)
        servers.append(sock)

        def loop():
            while sock.fileno() >= 0:
                try:
                    conn, _ = sock.accept()
                except (OSError, TimeoutError):
                    continue
                with conn:
                    conn.sendall(CANARY.encode())

        threading.Thread(target=loop, daemon=True).start()

    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    serve(tcp)
    unix_path = str(tmp_path / "grader.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(unix_path)
    os.chmod(unix_path, 0o777)
    serve(unix)
    abstract = f"embedlab-canary-{uuid.uuid4().hex[:8]}"
    abstract_sock = socket.socket(socket.AF_UNIX)
    abstract_sock.bind("\0" + abstract)
    serve(abstract_sock)
    root_file = tmp_path / "roots.txt"
    root_file.write_text("root's own")
    os.chmod(root_file, 0o600)
    libc = __import__("ctypes").CDLL(None, use_errno=True)
    queue = libc.msgget(0x454D42, 0o1000 | 0o600)  # IPC_CREAT: root's own message queue
    yield {"root file": root_file, "classmate": classmate, "port": tcp.getsockname()[1], "unix": unix_path, "abstract": abstract}
    for sock in servers:
        sock.close()
    if queue >= 0:
        libc.msgctl(queue, 0, None)  # IPC_RMID


def _probe(tmp_path: Path, canaries: dict, env_extra: dict, python: str = sys.executable, user: int | None = None) -> dict:
    learner = tmp_path / "learner" / "exercises"
    learner.mkdir(parents=True)
    (learner / "__init__.py").write_text("")
    (learner / "probe.py").write_text("CANARY_IN = lambda text: 'GOT: canary' if 'sk-canary-' in text else 'clean'\n" + PROBE)  # never the canary itself: the memory scan looks for that
    os.chmod(tmp_path / "learner", 0o755)
    paths = {
        "kit .git": str(ROOT / ".git" / "HEAD"),
        "kit .env": str(ROOT / ".env.example"),
        "kit solutions": str(ROOT / "solutions" / "similarity.py"),
        "kit selftests": str(ROOT / "selftests"),
        "kit tests": str(ROOT / "tests" / "reference.py"),
        "kit cassettes": str(ROOT / "cassettes"),
        "kit pyproject": str(ROOT / "pyproject.toml"),
        "classmate": str(canaries["classmate"] / "embed.py"),
        "/etc/shadow": "/etc/shadow",
        "/root": "/root",
        "/home": "/home",
        "root's file": str(canaries["root file"]),
    }
    script = textwrap.dedent(
        f"""
        import json, os, sys
        from embedlab.handle.learner import Learner
        from embedlab.handle.sweep import descendants, process_table

        def in_memory(top):
            # every readable page of the worker's processes (as root we may read them): the canary?
            canary = {CANARY!r}.encode()
            for pid in [top, *descendants(process_table(), {{top}})]:
                try:
                    maps = open(f"/proc/{{pid}}/maps").read().splitlines()
                    mem = open(f"/proc/{{pid}}/mem", "rb", buffering=0)
                except OSError:
                    continue
                with mem:
                    for line in maps:
                        span, perms = line.split()[:2]
                        start, end = (int(x, 16) for x in span.split("-"))
                        if "r" not in perms or end - start > 1 << 30:
                            continue
                        try:
                            mem.seek(start)
                            if canary in mem.read(end - start):
                                return f"GOT: in pid {{pid}} at {{line}}"
                        except (OSError, OverflowError, ValueError):
                            pass
            return "clean"

        def host_uids(top):
            # who the worker's processes are on the host, as the host's /proc says
            uids = set()
            for pid in [top, *descendants(process_table(), {{top}})]:
                try:
                    status = open(f"/proc/{{pid}}/status").read()
                except OSError:
                    continue
                argv = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
                if b"python" in argv[0].rsplit(b"/", 1)[-1] and b"embedlab.worker" in b" ".join(argv):  # not bubblewrap, root's
                    uids.update(int(n) for n in status.split("Uid:")[1].split("\\n")[0].split())
            return sorted(uids)

        learner = Learner({str(learner)!r}, timeout=60)
        args = [{paths!r}, {canaries["port"]}, {canaries["unix"]!r}, {canaries["abstract"]!r}, os.getpid(), {str(canaries["classmate"])!r}]
        scratch = learner._scratch
        try:
            found = learner.function("probe", "probe")(args)
            found["canary in the worker's memory"] = in_memory(learner._worker.pid)
            found["host uids"] = host_uids(learner._worker.pid)
            control = in_memory(os.getpid())  # the scan finds it where it is: in the grader's environment
            print(json.dumps({{"found": found, "isolation": learner.isolation, "control": control}}))
        finally:
            learner.close()
        left = [line for line in open("/proc/self/mountinfo") if str(scratch) in line]
        print(json.dumps({{"scratch left": scratch.exists() or bool(left)}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_", "PYTEST_", "EMBEDLAB_"))}
    env.update({"OPENAI_API_KEY": CANARY, "EMBEDLAB_CANARY": CANARY, **env_extra})
    as_user = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    done = subprocess.run([python, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, **as_user)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    *_, report, after = done.stdout.strip().splitlines()
    return {**json.loads(report), **json.loads(after)}


@pytest.mark.skipif(not LINUX_ROOT, reason="as root on Linux, as CI and Gradescope grade")
@pytest.mark.parametrize("mode", MODES)
def test_every_way_out_is_refused(base, canaries, mode, request):
    env, user, python = MODES[mode]
    if python == "venv":
        venv = request.getfixturevalue("venv")
        if user is not None:
            from embedlab.handle.users import unreachable

            closed = unreachable([ROOT, Path(os.path.realpath(sys.prefix))], user, user)
            if closed:
                pytest.skip(f"a grader of uid {user} cannot read {closed}: clone the kit where every user can read it")
        python = str(venv / "bin" / "python")
    else:
        python = sys.executable
    planted = ROOT / "pyproject.toml.planted"
    try:
        report = _probe(base, canaries, env, python, user)
        reached = planted.exists()
    finally:
        planted.unlink(missing_ok=True)
    found = report["found"]
    assert not reached, f"{mode}: the learner's code wrote a file into the kit"
    if str(found["write kit"]).startswith("GOT"):
        # Where the kit lies under /tmp, its path inside the walls is a folder of the worker's own
        # /tmp (a tmpfs of the namespace, gone with it): a write there reaches nothing of the kit.
        assert mode.endswith("user namespaces") and str(ROOT).startswith("/tmp/"), found["write kit"]
        found["write kit"] = "refused: written into the worker's own /tmp only"
    assert report["isolation"].startswith("walls:"), report["isolation"]
    leaked = {k: v for k, v in found.items() if isinstance(v, str) and v.startswith("GOT") and not k.startswith(("fill", "fork"))}
    assert not leaked, f"{mode}: these got through: {json.dumps(leaked, indent=1)}"
    assert found["environ"] == "clean"
    if user is None:  # a root grader may read every process's memory (one that is not root is not dumpable: not even its own)
        assert report["control"].startswith("GOT"), "the memory scan finds nothing even where the canary is"
    if not mode.startswith("landlock and seccomp alone, root"):
        assert found["host uids"] and 0 not in found["host uids"], f"the worker's uids on the host: {found['host uids']}"
    capped = ["fill tmp", "fill shm"] if "no namespaces" not in mode and "alone" not in mode else []
    if user is None:  # a root grader's scratch is a tmpfs of its own; one that is not root has only the per-file limit
        capped += ["fill scratch", "fill tmp"]
    assert oct(os.stat(canaries["root file"]).st_mode & 0o7777) == "0o600"
    bomb = found["fork bomb"]
    assert bomb.startswith("refused") or int(bomb.split()[-1]) < 300, f"{mode}: {bomb} processes"
    for name in capped:
        got = found[name]
        if got.startswith("GOT"):  # some was written: never more than the caps allow
            assert int(got.split()[-1]) < 300, f"{mode}: {name} wrote {got}"
    assert not report["scratch left"], "the worker's scratch folder (or its tmpfs) outlived its learner"
    assert not (ROOT / "pyproject.toml.planted").exists()
    assert not (canaries["classmate"] / "planted").exists()


@pytest.mark.skipif(not LINUX_ROOT, reason="as root on Linux")
def test_the_walls_are_decided_once_and_printed(tmp_path):
    """The table at the start of a run; a worker that cannot raise the plan's walls is refused,
    never started with fewer."""
    from embedlab.handle import sandbox

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--solutions", "-k", "cosine", "tests/test_2_similarity.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith(("EMBEDLAB_", "PYTEST_"))},
    )
    header = [line for line in run.stdout.splitlines() if line.startswith("embedlab walls around your code:")]
    assert header and "landlock" in header[0] and "seccomp" in header[0], run.stdout[-2000:]
    plan = sandbox.Walls.from_json(sandbox.plan().to_json())
    assert plan == sandbox.plan()


@pytest.mark.skipif(not LINUX_ROOT, reason="as root on Linux")
def test_a_worker_missing_a_wall_of_the_plan_is_not_graded(tmp_path, monkeypatch):
    """A plan that promises a Landlock ABI the worker cannot raise: 'could not be graded safely'."""
    from embedlab.handle import sandbox

    walls = sandbox.plan()
    forged = sandbox.Walls(**{**walls.__dict__, "landlock": walls.landlock + 50})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDLAB_", "PYTEST_"))}
    env[sandbox.WALLS_ENV] = forged.to_json()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--solutions", "-q", "tests/test_2_similarity.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert run.returncode != 0
    assert "could not be graded safely" in run.stdout, run.stdout[-2000:]
    assert "passed" not in run.stdout.splitlines()[-1] or " 0 passed" in run.stdout


def test_root_without_another_user_is_refused_in_one_sentence(tmp_path):
    if not LINUX_ROOT:
        pytest.skip("as root")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDLAB_", "PYTEST_"))}
    env["EMBEDLAB_WORKER_USER"] = "off"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--solutions", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode != 0
    said = [line for line in (run.stdout + run.stderr).splitlines() if "will not grade" in line]
    assert said and "--allow-root-worker" in said[0], run.stdout + run.stderr


def _call_in_a_child(tmp_path: Path, source: str) -> str:
    """The learner's `mod.answer()` called by a grading process of its own (a Learner makes its
    process a subreaper, which pytest's must not become): what the call failed with, or "passed"."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mod.py").write_text(textwrap.dedent(source))
    os.chmod(tmp_path, 0o755)
    script = textwrap.dedent(
        f"""
        from embedlab.handle.learner import Learner
        from embedlab.handle.values import CallFailed
        learner = Learner({str(folder)!r}, timeout=30)
        try:
            learner.function("mod", "answer")()
            print("passed")
        except CallFailed as failed:
            print("failed: " + str(failed).replace("\\n", " "))
        finally:
            learner.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["[(0, float('nan')), (1, float('nan'))]", "float('inf')", "{'a': [1.0, float('nan')]}", "__import__('numpy').array([0.5, float('nan')])"])
def test_a_nan_or_an_infinity_is_never_close_to_anything(tmp_path, value):
    said = _call_in_a_child(tmp_path, f"def answer(*args, **kwargs):\n    return {value}\n")
    assert said.startswith("failed") and ("nan" in said or "inf" in said), said


def test_a_reply_of_crafted_equal_hashes_is_refused_within_its_call(tmp_path):
    """Ints that all hash alike make a set cost quadratic time to build: refused, not built."""
    said = _call_in_a_child(tmp_path, "def answer():\n    p = (1 << 61) - 1\n    return {p * k for k in range(1, 20001)}\n")
    assert said.startswith("failed") and "share one hash" in said, said


@pytest.mark.skipif(not LINUX_ROOT, reason="as root: the grader chowns the folders it makes for the worker's user")
def test_a_folder_swapped_for_a_link_is_never_chowned(base, monkeypatch):
    """The worker owns its scratch, so it can put a link where the grader just made a folder: the
    grader must never change the owner of what the link points at (it follows no link)."""
    from embedlab.handle.learner import Learner
    from embedlab.handle.values import CallFailed

    target = base / "roots.txt"
    target.write_text("root's own")
    os.chmod(target, 0o600)
    package = base / "exercises"
    package.mkdir()
    (package / "__init__.py").write_text("")
    learner = Learner(package)
    if learner._user is None:
        learner.close()
        pytest.skip("no user of its own for the worker here")
    real_mkdir = os.mkdir

    def swapped(name, mode=0o777, *, dir_fd=None):  # the race, won every time
        real_mkdir(name, mode, dir_fd=dir_fd)
        os.rmdir(name, dir_fd=dir_fd)
        os.symlink(target, name, dir_fd=dir_fd)

    try:
        monkeypatch.setattr(os, "mkdir", swapped)
        with pytest.raises(CallFailed, match="replaced a folder"):
            learner.scratch_folder("store")
        monkeypatch.undo()
        info = os.stat(target)
        assert (info.st_uid, info.st_gid) == (0, 0) and info.st_mode & 0o777 == 0o600
    finally:
        monkeypatch.undo()
        learner.close()
