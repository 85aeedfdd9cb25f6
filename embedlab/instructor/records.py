"""The data of a class run: what a submission is, what grading it gave, the kit as it was when
grading began, and the run's settings. Imported by every module of `embedlab grade`; imports none
of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from embedlab import course
from embedlab.instructor.gradebook import exercise_files

__all__ = ["KIT_FILES", "KIT_FOLDERS", "GradeSettings", "Graded", "Snapshot", "Submission"]

KIT_FILES = ("pyproject.toml", "conftest.py", course.FILENAME)
KIT_FOLDERS = ("tests", "cassettes")


@dataclass(frozen=True)
class GradeSettings:
    kit_root: Path
    cassettes: str | None
    timeout: float
    test_timeout: float
    readonly: tuple[Path, ...] = ()


@dataclass
class Submission:
    name: str
    folder: Path
    files: dict[str, bytes] = field(default_factory=dict)  # exercise files by relative path
    flags: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        files = exercise_files()
        return not any(Path(p).name in files for p in self.files)


@dataclass
class Graded:
    name: str
    status: str  # graded | timeout | crashed | error | empty
    score: float = 0.0
    max_score: float = 0.0
    exercises: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    results: dict | None = None


@dataclass
class Snapshot:
    """Your tests, cassettes and configuration as bytes, and a fingerprint of the grader's code."""

    root: Path
    files: dict[str, bytes]
    code: dict[str, str]

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        return cls(root, cls._grading_files(root), cls._fingerprint(root))

    @staticmethod
    def _grading_files(root: Path) -> dict[str, bytes]:
        files = {name: (root / name).read_bytes() for name in KIT_FILES if (root / name).is_file()}
        for folder in KIT_FOLDERS:
            for path in sorted((root / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    files[str(path.relative_to(root))] = path.read_bytes()
        return files

    @staticmethod
    def _fingerprint(root: Path) -> dict[str, str]:
        package = Path(__file__).resolve().parent.parent
        return {str(p.relative_to(package.parent)): _sha256(p.read_bytes()) for p in sorted(package.rglob("*.py"))}

    def write(self, destination: Path) -> None:
        for relative, data in self.files.items():
            path = destination / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def changes(self) -> list[str]:
        """What changed in the kit since the snapshot (never touched here: an instructor may be
        editing it; every submission is graded from the snapshot anyway)."""
        current = self._grading_files(self.root)
        changed = [p for p in sorted(set(current) | set(self.files)) if current.get(p) != self.files.get(p)]
        for folder in KIT_FOLDERS:
            changed += [str(c.relative_to(self.root)) for c in (self.root / folder).rglob("*.pyc")]
        code = self._fingerprint(self.root)
        changed += [p for p in sorted(set(code) | set(self.code)) if code.get(p) != self.code.get(p)]
        return changed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
