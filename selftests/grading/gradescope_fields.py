"""Gradescope's documented results.json fields (gradescope-autograders.readthedocs.io, "Autograder
Specifications"), as a check: every key is one Gradescope knows, every value of the type and the
choices it documents, and the points add up."""

from __future__ import annotations

TOP = {
    "score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
    "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
STATUS = {"passed", "failed"}


def problems(results: dict) -> list[str]:
    """What in `results` Gradescope would not read as documented (empty: nothing)."""
    found = [f"unknown top-level key {key!r}" for key in set(results) - TOP - {"max_score"}]
    if not isinstance(results.get("score"), (int, float)):
        found.append("no numeric top-level score")
    for key in ("visibility", "stdout_visibility"):
        if key in results and results[key] not in VISIBILITY:
            found.append(f"{key} {results[key]!r}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in results and results[key] not in FORMATS:
            found.append(f"{key} {results[key]!r}")
    tests = results.get("tests", [])
    if not isinstance(tests, list):
        return [*found, "tests is not a list"]
    for test in tests:
        name = test.get("name", "?")
        found += [f"{name}: unknown key {key!r}" for key in set(test) - TEST]
        if not isinstance(test.get("score"), (int, float)) or not isinstance(test.get("max_score"), (int, float)):
            found.append(f"{name}: score and max_score must be numbers")
        elif not 0 <= test["score"] <= test["max_score"]:
            found.append(f"{name}: score {test['score']} outside 0..{test['max_score']}")
        if "status" in test and test["status"] not in STATUS:
            found.append(f"{name}: status {test['status']!r}")
        if test.get("visibility", "visible") not in VISIBILITY:
            found.append(f"{name}: visibility {test['visibility']!r}")
        if test.get("output_format", "text") not in FORMATS:
            found.append(f"{name}: output_format {test['output_format']!r}")
        if not isinstance(test.get("tags", []), list) or not isinstance(test.get("output", ""), str):
            found.append(f"{name}: tags must be a list and output a string")
    if tests and abs(sum(t.get("score", 0) for t in tests) - results.get("score", 0)) > 1e-9:
        found.append("the tests' scores do not add up to the score")
    return found
