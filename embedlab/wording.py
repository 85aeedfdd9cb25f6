"""Values and texts as a person writes them in a sentence: shared by the grading side and the
worker's handle, which must not import each other's machinery."""

from __future__ import annotations

from typing import Any


def short_text(text: str, limit: int) -> str:
    """One line at most `limit` characters long: a wall of numbers becomes its start and a count."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + f"… ({len(text):,} characters)"


def brief(value: Any, limit: int = 60) -> str:
    """A value as a person would write it in a sentence: arrays and long lists by their size."""
    numpy = _numpy()
    if numpy is not None and isinstance(value, numpy.ndarray):
        if value.ndim == 1 and value.dtype.kind in "fiu":
            kind = "floats" if value.dtype.kind == "f" else "integers"
            first = ", ".join(f"{x:.3f}" if value.dtype.kind == "f" else str(x) for x in value[:2].tolist())
            return f"array of {len(value)} {kind} [{first}{', …' if len(value) > 2 else ''}]"
        return f"array of shape {value.shape} ({value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        first = ", ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in value[:2])
        return f"[{first}, … {len(value)} numbers]"
    shown = repr(value)
    if len(shown) <= limit:
        return shown
    if isinstance(value, (list, tuple)) and value:
        return f"[{brief(value[0], 30)}, … ({len(value)} items in all)]"
    return shown[: limit - 1] + "…"


def a_or_an(word: str) -> str:
    """'a float32', 'an int64', 'an ndarray': the article a reader says before a type's name."""
    return ("an " if word[:1].lower() in "aeiou" or word.startswith("nd") else "a ") + word


def _numpy():
    import sys

    return sys.modules.get("numpy")
