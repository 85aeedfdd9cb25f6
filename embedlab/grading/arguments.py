"""pytest's arguments for a grading run in a process of its own (`embedlab grade`'s grading
processes, `embedlab watch`, `embedlab map`): written once, so every one grades as plain `pytest`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["grading_arguments"]


def grading_arguments(root: Path, exercises: Path, targets: Iterable[Path] | None = None, cassettes: str | None = None) -> list[str]:
    """Grade `exercises` with the kit at `root` (its pyproject.toml, its tests or just `targets`),
    offline, without pytest's cache."""
    return [
        "-q", "-p", "no:cacheprovider", f"--rootdir={root}", "-c", str(root / "pyproject.toml"),
        *(str(t) for t in (targets if targets is not None else [root / "tests"])),
        f"--exercises-dir={exercises}", "--live=off", *([f"--cassettes={cassettes}"] if cassettes else []),
    ]  # fmt: skip
