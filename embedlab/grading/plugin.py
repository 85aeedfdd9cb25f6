"""The grading plugin, registered by the repo's conftest.py: options and the hooks that run and
report grading tests. Its state lives in `session` (`Grading`), its fixtures in `fixtures`.

Grading tests are the ones marked `@pytest.mark.exercise(name)`, a name from the course catalogue
(`course.toml`, read by `embedlab.course`); every other test (the kit's own selftests) runs
untouched. The pieces live in their own modules: `cassettes` (recording rules), `endpoint` (what a
test talks to), `live` (the live endpoint), `outcomes` (how a test ends, in words) and `report`
(points, summary, JSON); the learner's code runs in a worker (`embedlab.handle.learner`).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from embedlab import __version__, course as catalogue
from embedlab.grading import cassettes, outcomes, source
from embedlab.grading.fixtures import api, synthetic_api, target  # noqa: F401 (registered with the plugin)
from embedlab.grading.live import LiveConfig
from embedlab.grading.report import LIVE, Result, RunInfo
from embedlab.grading.session import GRADING, Grading, graded as _graded, grading_of as _grading
from embedlab.handle.values import CallFailed, LearnerRaised


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("embedlab", "embedlab grading")
    group.addoption("--solutions", action="store_true", help="grade solutions/ instead of exercises/ (the kit's self-check)")
    group.addoption("--exercises-dir", metavar="DIR", help="grade the exercise files in DIR instead of exercises/")
    group.addoption("--cassettes", metavar="NAME", help=f"the cassette set to replay or record (default: {cassettes.DEFAULT_SET})")
    group.addoption("--cassette-dir", metavar="DIR", help="the folder holding the cassette sets (default: cassettes/)")
    group.addoption(
        "--record-mode",
        choices=cassettes.RECORD_MODES,
        default="none",
        help="none: replay only (default); new_episodes: record what is missing; rewrite: record each used cassette afresh",
    )
    group.addoption(
        "--live",
        choices=("env", "local", "off"),
        default="env",
        help="live checks: env = the endpoint in .env (default), local = start `embedlab serve`, off = skip them",
    )
    group.addoption("--score-live", action="store_true", help="count the live checks in the score")
    group.addoption("--grade-json", metavar="PATH", help="write Gradescope's results.json to PATH")
    group.addoption("--grade-timeout", type=float, default=20.0, metavar="S", help="stop a call to your code after S seconds (default 20)")
    group.addoption("--grade-fd", type=int, metavar="FD", help=argparse_suppress())
    group.addoption("--no-sandbox", action="store_true", help="run the worker without namespaces (Landlock, seccomp and the user wall still stand)")
    group.addoption("--allow-root-worker", action="store_true", help="grade even where the worker can only run as root (named in the results)")


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS  # options for `embedlab grade`, not for people


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The walls around the learner's code, decided before any of it runs."""
    walls = getattr(config.stash.get(GRADING, None), "walls", None)
    return walls.header(shutil.get_terminal_size((80, 24)).columns) if walls is not None else []


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "exercise(name): the exercise of course.toml a grading test belongs to (the live checks: a module too)",
        "points(n): what a grading test is worth",
        'lesson: the check holds the exercise\'s main lesson: when it fails, "Next:" shows it before the others',
        "live: a check against the configured endpoint, not the cassettes",
        "synthetic: a grading test answered by a built-in fake server, not a cassette",
        "fresh_worker: the test calls target.fresh_worker(); a new worker warms up from its module's first test on",
    ):
        config.addinivalue_line("markers", line)
    grading = config.stash[GRADING] = Grading(config)
    _grade_the_section_from_anywhere(config)
    if grading.prestart(config):
        _quiet_pytest_summary(config)


def _grade_the_section_from_anywhere(config: pytest.Config) -> None:
    """`pytest` typed inside exercises/ (or any folder of the kit) grades the section, as at the top."""
    root = config.rootpath.resolve()
    here = Path(config.invocation_params.dir).resolve()
    if config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR and here != root and root in here.parents:
        if (root / "tests").is_dir() and not list(here.glob("test_*.py")):
            config.args[:] = [str(root / "tests")]


def _quiet_pytest_summary(config: pytest.Config) -> None:
    """The grading table says it all: pytest's own failure sections and short summary are left out
    unless asked for (-r…, --tb, -v)."""
    given = config.invocation_params.args
    if not any(str(a).startswith(("-r", "--tb", "-v", "--verbose", "--no-summary")) for a in given):
        config.option.no_summary = True


# -- running a test ------------------------------------------------------------------------------


@contextmanager
def _guarded(item: pytest.Item):
    """Around a grading test's setup and call: no network in this process unless it is live."""
    if not _graded(item):
        yield
        return
    grading = _grading(item.config)
    with ExitStack() as stack:
        if not grading.recording and item.get_closest_marker("live") is None:
            from embedlab.grading import network

            stack.enter_context(network.blocked())
        try:
            yield
        except CallFailed as err:  # the worker's handle says why a call could not be made
            outcomes.fail(str(err), broken=getattr(err, "file", None) or "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    _warm_a_worker_for(item)
    with _guarded(item):
        return (yield)


def _warm_a_worker_for(item: pytest.Item) -> None:
    """At the first test of a module whose `fresh_worker` test is selected: start that worker now,
    so that it has finished importing by then (a new one costs about half a second)."""
    module = getattr(item, "module", None)
    if module is None or not _graded(item) or module.__name__ in _modules_started:
        return
    _modules_started.add(module.__name__)
    if any(getattr(i, "module", None) is module and i.get_closest_marker("fresh_worker") for i in item.session.items):
        _grading(item.config).learner.warm_spare()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if not _graded(item) or call.excinfo is None or not report.failed:
        return report
    status, sentence = _explain(call.excinfo.value)
    if status:
        report.embedlab_status = status
    if sentence is not None:
        report.longrepr = sentence
    facts = outcomes.facts_of(call.excinfo.value)
    if isinstance(call.excinfo.value, LearnerRaised):
        facts["raised"] = outcomes.kind_of(call.excinfo.value)
    report.embedlab_facts = facts
    return report


def _explain(err: BaseException) -> tuple[str | None, str | None]:
    """(status, sentence) for an exception that ended a grading test; None keeps pytest's own."""
    if isinstance(err, outcomes.NotStarted):
        return "not started", str(err)
    if isinstance(err, pytest.fail.Exception):
        return None, None  # already one sentence, from expect() / fail()
    chain: list[BaseException] = []
    link: BaseException | None = err
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    for link in chain:
        if isinstance(link, (outcomes.NotStarted, NotImplementedError)):
            return "not started", str(link) or "This function is not written yet."
    for link in chain:
        if type(link).__name__ == "CannotOverwriteExistingCassetteException":
            return None, ("The code sent a request the recordings do not hold, so the grader cannot answer it: check the model and the texts it sends.")
    if isinstance(err, LearnerRaised):
        return None, outcomes.describe_exception("your code", err)
    return None, None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if getattr(report, "embedlab_status", None) == "not started" and report.when in ("setup", "call"):
        return "not started", "N", ("NOT STARTED", {"yellow": True})
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    item = _graded_items.get(report.nodeid)
    if item is None:
        return
    grading = _grading(item.config)
    finished = report.when == "call" or (report.when == "setup" and not report.passed) or (report.when == "teardown" and report.failed)
    if not finished:
        return
    if report.passed:
        status, message = "passed", ""
    elif report.skipped:
        status = "skipped"
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        message = message.removeprefix("Skipped: ")
    else:
        status = getattr(report, "embedlab_status", None) or "failed"
        message = str(report.longrepr)
    facts = getattr(report, "embedlab_facts", None) or {}
    printed = report.capstdout if status == "failed" else ""
    existing = next((r for r in grading.gradebook.results if r.nodeid == report.nodeid), None)
    if existing is not None:  # a teardown failure after the call
        if status == "failed":
            existing.status, existing.message = status, message
        return
    name = _exercise_of(item)
    listed = grading.course.get(name)
    marker = item.get_closest_marker("exercise")
    module = listed.file if listed else (f"{marker.args[1]}.py" if len(marker.args) > 1 else "")  # the live row names one
    file = f"{grading.learner.package}/{module}" if module else ""
    points = item.get_closest_marker("points")
    live = item.get_closest_marker("live") is not None
    where = ""
    if status == "failed" and listed is not None and not live and not facts.get("raised") and not facts.get("broken"):
        where = source.value_line(grading.learner.directory / listed.file, listed.name, message)  # read, never imported
    grading.gradebook.add(
        Result(
            nodeid=report.nodeid,
            exercise=LIVE if live else name,
            file=file,
            title=_title(item),
            points=float(points.args[0]) if points else 1.0,
            live=live,
            status=status,
            message=message,
            raised=facts.get("raised", ""),
            broken=facts.get("broken", ""),
            printed=printed,
            where=where,
            lesson=item.get_closest_marker("lesson") is not None,
        )
    )


_graded_items: dict[str, pytest.Item] = {}
_modules_started: set[str] = set()  # test modules whose first test has begun (see _warm_a_worker_for)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Grading tests in the course's order; `-k embed` means the exercise embed: exactly its tests,
    whatever other names contain "embed", inside any -k expression too (`_select_by_keyword`)."""
    graded = [i for i in items if _graded(i)]
    if not graded:
        return
    grading = _grading(config)
    course = grading.course
    for item in graded:
        name = _exercise_of(item)
        if name != LIVE and course.get(name) is None:
            raise pytest.UsageError(
                f"{item.nodeid} grades exercise {name!r}, which {catalogue.FILENAME} does not list: add an [[exercises]] entry for it or fix the marker"
            )
        item.extra_keyword_matches.add(name)  # a part of a name (-k top) finds the exercise too
    if all(_graded(i) for i in items):  # the course's order, stable within an exercise
        items.sort(key=lambda i: (_exercise_of(i) == LIVE, course.index(_exercise_of(i))))
    keyword = (config.option.keyword or "").strip()
    if keyword:
        _select_by_keyword(items, keyword, config, course.names)
        config.option.keyword = ""  # selected here; pytest's own -k would match substrings
        if keyword in course.names:
            grading.selected = keyword


def _select_by_keyword(items: list[pytest.Item], expression: str, config: pytest.Config, names: list[str]) -> None:
    """The learner's `-k`, evaluated here: inside any expression (`and`, `or`, `not`, parentheses)
    an exercise's name means that exercise's tests and no others, whatever their names contain;
    any other word matches as pytest's own -k does (a test's, class's or file's name, in part)."""
    from _pytest.mark import KeywordMatcher
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expression)
    except SyntaxError as err:  # pytest's own words for it
        raise pytest.UsageError(f"Wrong expression passed to '-k': {err.text}: at column {err.offset}: {err.msg}") from None
    exercises = {n.lower() for n in names}

    def matcher_for(item: pytest.Item):
        own = (_exercise_of(item) or "").lower() if _graded(item) else None
        words = KeywordMatcher.from_item(item)

        def matches(word: str, /, **kwargs) -> bool:
            if own is not None and not kwargs and word.lower() in exercises:
                return own == word.lower()
            return words(word, **kwargs)

        return matches

    kept = {id(i): compiled.evaluate(matcher_for(i)) for i in items}
    if not all(kept.values()):
        config.hook.pytest_deselected(items=[i for i in items if not kept[id(i)]])
        items[:] = [i for i in items if kept[id(i)]]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    _graded_items.clear()
    _modules_started.clear()
    _graded_items.update((item.nodeid, item) for item in session.items if _graded(item))
    if _graded_items:
        grading = _grading(config)
        grading.start()
        grading.import_libraries()
        names = {_exercise_of(i) for i in _graded_items.values()}
        grading.whole_section = set(grading.course.names) <= names and not grading.deselected


def pytest_deselected(items) -> None:
    if any(_graded(i) for i in items):
        for item in items:
            _grading(item.config).deselected = True
            break


def _exercise_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("exercise")
    return marker.args[0] if marker else None


def _title(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    if doc and doc.strip():
        return doc.strip().splitlines()[0].rstrip(".")
    return item.name.removeprefix("test_").replace("_", " ")


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_shows_the_grades_last(session: pytest.Session, exitstatus: int):
    """The grading table and "Next:" come last, after pytest's own closing line."""
    result = yield
    config = session.config
    grading = _grading(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not grading.gradebook.results or reporter is None:
        return result
    width = reporter._tw.fullwidth
    header = f"embedlab — grading {grading.learner.package}/ against {grading.set_name}"
    if isinstance(grading._live, LiveConfig):
        header = f"embedlab — {grading.learner.package}/ against {grading.set_name}, live: {grading._live.model}"
    reporter.write_sep("=", header)
    stopped = None
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        stopped = "interrupted"
    elif session.shouldstop:
        stopped = "stopped at the first failure: -x"
    run = RunInfo(
        collected=len(_graded_items),
        whole_section=grading.whole_section,
        stopped=stopped,
        live_label=grading.live_label(),
    )
    for line in grading.gradebook.summary_lines(run, width):
        reporter.write_line(line)
    return result


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    grading = _grading(session.config)
    if not grading.started:
        return
    grading.finish()
    try:
        _report(session, grading, exitstatus)
    finally:
        grading.learner.close()  # the sweep, after the results are out: strays cannot hold them back


def _report(session: pytest.Session, grading, exitstatus: int) -> None:
    if not grading.gradebook.results:
        return
    extra = {
        "kit_version": __version__,
        "cassettes": grading.set_name,
        "graded": grading.learner.package,
        "printed_bytes": grading.learner.printed,
        "isolation": grading.learner.isolation,
    }
    if exitstatus == pytest.ExitCode.OK and any(r.status != "passed" for r in grading.gradebook.results if grading.gradebook.scored(r)):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a skip or an error in a scored test is not a pass
    if session.config.option.grade_json:
        grading.gradebook.write_json(Path(session.config.option.grade_json), extra)
    if session.config.option.grade_fd is not None:
        _send_results(session.config.option.grade_fd, grading.gradebook.gradescope(extra))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(grading.gradebook.markdown())


def _send_results(fd: int, results: dict) -> None:
    """For `embedlab grade`: the results go up an inherited pipe, never through a file."""
    data = json.dumps(results).encode("utf-8")
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """`pytest exercises/embed.py` collects nothing (pytest's exit 5): the learner named their own
    answer. Say where its tests are and how to grade just that exercise."""
    if exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED or _graded_items:
        return
    grading = _grading(config)
    here = Path(config.invocation_params.dir)
    named = [(here / str(a).split("::", 1)[0]).resolve() for a in config.args]
    folders = {(grading.root / f).resolve() for f in ("exercises", "solutions")}
    if config.option.exercises_dir:
        folders.add(Path(config.option.exercises_dir).resolve())
    mine = [p for p in named if p in folders or p.parent in folders]
    if not mine:
        return
    try:
        exercises = grading.course.exercises
    except pytest.UsageError:
        return
    names = [e.name for p in mine for e in exercises if p.suffix == ".py" and e.file == p.name] or [e.name for e in exercises[:1]]
    shown = ", ".join(str(a) for a in config.args)
    ways = " or ".join(f"`pytest -k {n}`" for n in dict.fromkeys(names))
    from embedlab.grading.report import wrap_line

    width = terminalreporter._tw.fullwidth
    terminalreporter.write_line("")
    for line in wrap_line(
        f"No tests in {shown}: that is your code. The tests that grade it are in tests/. Grade it with {ways}, or the whole course with `pytest`.",
        width=width,
    ):
        terminalreporter.write_line(line)
