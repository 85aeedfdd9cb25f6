"""`embedlab dev new NAME --part PART`: a new exercise from commented templates, as Rustlings'
`dev new` writes a commented `info.toml`. It writes the stub (exercises/), its solution
(solutions/), a test module (tests/test_<n>_<name>.py), the catalogue entry (course.toml) and a
mistakes folder with a first wrong answer (selftests/grading/mistakes/<name>/). Each template is a
small working example — the length of each text's vector — with TODO comments where the
exercise's own words and code go; `embedlab dev check` then names what is still missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from embedlab import course as catalogue
from embedlab.dev import catalogue as mistakes_catalogue

STUB_FILE = '''"""{title}

Run it: python exercises/{file}        Grade it: pytest -k {name}
"""

import numpy as np  # noqa: F401 (you will need it)

from embedlab.common import client_and_model, run_script  # noqa: F401 (used once the stub is written)
from embedlab.course import hint
{stub}

def main():
    # TODO: what `python exercises/{file}` shows the learner, as in the section's scripts
    print({name}(["The cat sat on the mat."]))


if __name__ == "__main__":
    run_script(main)
'''

STUB = '''

def {name}(texts, *, client=None, model=None):
    """TODO: what {name}() does, in the learner's words: its arguments, what it returns, what it raises.

    >>> {name}(["The cat sat on the mat."])
    [1.0]
    """
    raise NotImplementedError(hint("{name}"))
'''

SOLUTION = """

def {name}(texts, *, client=None, model=None):
    # TODO: the reference answer, with the same name and signature as the stub.
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=list(texts))
    rows = sorted(response.data, key=lambda item: item.index)
    return [float(np.linalg.norm(item.embedding)) for item in rows]
"""

TEST = '''"""Exercise {number} — {name}() in exercises/{file}. TODO: one line a learner reads first."""

import numpy as np
import pytest

from embedlab.grading.outcomes import brief, expect

# TODO: the texts the tests embed, here where a learner can read them. Every request a test (or the
# reference solution) makes must be recorded: `embedlab record`, then `embedlab dev check`.
TEXTS = ["The cat sat on the mat.", "We deployed the web server at noon."]

pytestmark = pytest.mark.exercise("{name}")  # the exercise of course.toml these tests grade


@pytest.fixture
def {name}(target):
    """The learner's function, in the worker (never imported here)."""
    return target.function("{module}", "{name}")


@pytest.mark.points(1)  # what the test is worth; every grading test says it
def test_returns_the_length_of_each_vector({name}, api):
    """Returns a list: the length of each text's vector"""  # the title in the grading table
    # api.call passes the test's client and model; api.vectors is the recorded answer, the oracle.
    result = api.call({name}, TEXTS)
    expected = [float(np.linalg.norm(v)) for v in api.vectors(TEXTS)]
    shown = f"{name}({{brief(TEXTS)}})"
    # TODO: one sentence per way to be wrong, said to a beginner (what came back, what to do).
    expect(isinstance(result, list), f"{{shown}} returned {{brief(result)}}; return a list of floats")
    expect(
        len(result) == len(expected) and all(abs(a - b) < 1e-6 for a, b in zip(result, expected)),
        f"{{shown}} returned {{brief(result)}}; expected {{[round(x, 4) for x in expected]}}",
    )
'''

ENTRY = '''
[[exercises]]
name = "{name}"
file = "{file}"
part = "{part}"
# TODO: the hint a learner sees for a stub (and watch's `h`): name the concept, point at the line
# that matters, and ask a question rather than give the answer.
hint = """
TODO: which call gives you the vectors, and which numpy function gives a vector's length?
"""
'''

MISTAKE = '''"""A mistake in {file}: {name} returns a numpy array, not a list.

file: {file}
test: test_returns_the_length_of_each_vector
says: return a list of floats
"""

# TODO: at least three wrong answers a learner could write, one file each, every one caught by a test
# (`test:`, part of its node id) with words it must say (`says:`). The code below replaces the
# same names in solutions/{file} when the mistakes are graded (selftests/grading/test_wrong_answers.py).

{marker}
def {name}(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=list(texts))
    rows = sorted(response.data, key=lambda item: item.index)
    return np.linalg.norm(np.array([item.embedding for item in rows]), axis=1)
'''


class NewError(catalogue.CourseError):
    """The exercise cannot be written: one sentence why (the CLI prints it)."""


def _next_number(tests: Path) -> int:
    numbers = [int(m.group(1)) for p in tests.glob("test_*.py") if (m := re.match(r"test_(\d+)_", p.name))]
    return max(numbers, default=0) + 1


def _add_function(path: Path, code: str) -> None:
    """`code` before the file's `def main():` (or at its end)."""
    text = path.read_text(encoding="utf-8")
    at = text.find("\n\ndef main(")
    text = text[:at].rstrip("\n") + "\n" + code + text[at:] if at >= 0 else text.rstrip("\n") + "\n" + code
    path.write_text(text, encoding="utf-8")


def new(root: Path, name: str, part: str, file: str | None = None) -> list[str]:
    """Write the exercise `name`; the lines say what was written."""
    course = catalogue.parse(root / catalogue.FILENAME)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise NewError(f"{name!r} is not a name: letters, digits and underscores (it is what `pytest -k` takes)")
    if course.get(name) is not None:
        raise NewError(f"{catalogue.FILENAME} lists an exercise {name!r} already")
    if part not in course.part_titles:
        raise NewError(
            f'part {part!r} is not declared in {catalogue.FILENAME}\'s [parts] ({", ".join(course.part_titles)}): add a line `{part} = "its title"` there first'
        )
    file = file or f"{name}.py"
    if not file.endswith(".py") or "/" in file:
        raise NewError(f"file {file!r} must be a .py file directly in exercises/")
    module = file.removesuffix(".py")
    number = _next_number(root / "tests")
    test = root / "tests" / f"test_{number}_{name}.py"
    mistakes = root / mistakes_catalogue.MISTAKES_DIR / name
    if mistakes.exists():
        raise NewError(f"{mistakes.relative_to(root)} exists already")
    written = []
    stub, solution = root / "exercises" / file, root / "solutions" / file
    fields = dict(name=name, file=file, module=module, part=part, number=number, marker=mistakes_catalogue.MARKER)
    if stub.exists() != solution.exists():
        raise NewError(f"exercises/{file} and solutions/{file} must both exist, or neither")
    if stub.exists():
        _add_function(stub, STUB.format(**fields))
        _add_function(solution, SOLUTION.format(**fields))
        written += [f"added {name}() to exercises/{file} and solutions/{file}"]
    else:
        title = f"Exercise {number} — {name}(): TODO, what the learner builds, in one line."
        stub.write_text(STUB_FILE.format(title=title, stub=STUB.format(**fields), **fields), encoding="utf-8")
        solution.write_text(STUB_FILE.format(title=title, stub=SOLUTION.format(**fields), **fields).replace(
            "from embedlab.course import hint\n", ""), encoding="utf-8")  # fmt: skip
        written += [f"wrote exercises/{file}", f"wrote solutions/{file}"]
    test.write_text(TEST.format(**fields), encoding="utf-8")
    written.append(f"wrote tests/{test.name}")
    with (root / catalogue.FILENAME).open("a", encoding="utf-8") as handle:
        handle.write(ENTRY.format(**fields))
    written.append(f"added [[exercises]] {name!r} to {catalogue.FILENAME}")
    mistakes.mkdir(parents=True)
    (mistakes / f"{name}-returns-an-array.py").write_text(MISTAKE.format(**fields), encoding="utf-8")
    written.append(f"wrote {mistakes.relative_to(root)}/{name}-returns-an-array.py")
    return written
