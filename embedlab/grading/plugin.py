"""The grading plugin, registered by the repo's conftest.py: options, fixtures, report hooks.

Grading tests are the ones marked `@pytest.mark.exercise(name)`, a name from the course catalogue
(`course.toml`, read by `embedlab.course`); every other test (the kit's own selftests) runs
untouched. The pieces live in their own modules: `cassettes` (recording rules), `endpoint` (what a
test talks to), `live` (the live endpoint), `outcomes` (how a test ends, in words) and `report`
(points, summary, JSON); the learner's code runs in a worker (`embedlab.worker.handle`).
"""

from __future__ import annotations

import datetime
import json
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from embedlab import __version__
from embedlab import course as catalogue
from embedlab.grading import cassettes, outcomes
from embedlab.grading.live import LiveConfig, LiveUnavailable
from embedlab.grading.report import LIVE, Gradebook, Result, RunInfo
from embedlab.worker.handle import CallFailed, Learner, LearnerRaised

REPLAY_KEY = "replay-needs-no-key"


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
    group.addoption("--sandbox-readonly", action="append", default=[], metavar="DIR", help=argparse_suppress())
    group.addoption("--sandbox-hidden", action="append", default=[], metavar="DIR", help=argparse_suppress())
    group.addoption("--no-sandbox", action="store_true", help="run the worker without namespaces (in-process walls only)")


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS  # options for `embedlab grade`, not for people


class Grading:
    """Per-session state: what is graded, against which cassettes, with which results."""

    def __init__(self, config: pytest.Config) -> None:
        option = config.option
        self.option = option
        self.root = config.rootpath
        self.record_mode: str = option.record_mode
        self.recording = self.record_mode != "none"
        self.timeout: float = option.grade_timeout
        self.live_mode: str = option.live
        self.gradebook = Gradebook(score_live=option.score_live)
        self._course: catalogue.Course | None = None
        self.stack = ExitStack()
        self._live: LiveConfig | LiveUnavailable | None = None
        self._vcr = None
        self._rewritten: set[Path] = set()
        self._known: dict[Path, set] = {}
        self.references: dict[Path, dict] = {}  # per cassette: what the endpoint answered the grader
        self.recorded_anything = False
        self.started = False
        self.selected: str | None = None  # `-k <exercise>`
        self.deselected = False
        self.whole_section = True

    def prestart(self, config: pytest.Config) -> bool:
        """When the command line can only mean grading, fork the worker before collecting: it
        imports openai on the other core while this process collects the tests. True if it is
        a grading run."""
        tests = (self.root / "tests").resolve()
        here = Path(config.invocation_params.dir)
        paths = [(here / str(a).split("::", 1)[0]).resolve() for a in config.args]
        if not paths or not all(p == tests or tests in p.parents for p in paths):
            return False
        try:
            self.start(launch_only=True)
        except (pytest.UsageError, OSError):
            self.started = False
        return True

    @property
    def course(self) -> catalogue.Course:
        """The catalogue, checked against the files and the tests: refused in one sentence."""
        if self._course is None:
            try:
                found = catalogue.load(self.root / catalogue.FILENAME)
                found.check(self.root)
            except catalogue.CourseError as err:
                raise pytest.UsageError(str(err)) from None
            self._course = found
            self.gradebook.course = found
        return self._course

    def start(self, launch_only: bool = False) -> None:
        """Check the options against the repo; only when grading tests were collected."""
        if self.started:
            return
        option = self.option
        self.course  # noqa: B018 (a catalogue that disagrees with the kit stops everything here)
        if option.exercises_dir:
            directory = Path(option.exercises_dir)
        else:
            directory = self.root / ("solutions" if option.solutions else "exercises")
        if not directory.is_dir():
            raise pytest.UsageError(f"nothing to grade: {directory} is not a folder")
        self.directory = directory.resolve()

        if self.recording:
            from embedlab import common

            if not common.EMBED_MODEL:
                raise pytest.UsageError("recording needs an endpoint: set OPENAI_BASE_URL, OPENAI_API_KEY and EMBED_MODEL")
            self.model = common.EMBED_MODEL
            self.set_name = option.cassettes or self.model.replace("/", "-").replace(":", "-")
        else:
            self.set_name = option.cassettes or cassettes.DEFAULT_SET
        library = Path(option.cassette_dir) if option.cassette_dir else self.root / "cassettes"
        self.set_dir = library / self.set_name
        if not self.recording:
            manifest = cassettes.read_manifest(self.set_dir)
            if "model" not in manifest:
                known = sorted(p.parent.name for p in library.glob(f"*/{cassettes.MANIFEST}"))
                raise pytest.UsageError(
                    f"no cassette set {self.set_name!r} (with a manifest.json); sets here: {', '.join(known) or 'none'}"
                )
            self.model = manifest["model"]
        from embedlab.worker import walls

        walls.become_subreaper()  # a process the learner's code detaches comes back to us
        package = self.directory.name
        self.learner = Learner(
            self.directory,
            timeout=self.timeout,
            readonly=[self.root.resolve(), *(Path(p).resolve() for p in option.sandbox_readonly)],
            hidden=[
                library.resolve(),
                *([] if package == "solutions" else [self.root.resolve() / "solutions"]),
                *(Path(p).resolve() for p in option.sandbox_hidden),
            ],
            block=None if package == "solutions" else "solutions",
            isolate=not option.no_sandbox,
        )
        self.learner.launch()
        self.started = True
        if not launch_only:
            self.import_libraries()

    def import_libraries(self) -> None:
        """The libraries the tests need, before the first test: its time goes to the learner."""
        import httpx2  # noqa: F401
        import vcr  # noqa: F401

    # -- cassettes -------------------------------------------------------------------------------

    @property
    def vcr(self):
        if self._vcr is None:
            mode = "none" if self.record_mode == "none" else "new_episodes"
            self._vcr = cassettes.make_vcr(self.set_dir, mode)
        return self._vcr

    def known_inputs(self, path: Path, cassette) -> set:
        """What a cassette holds, by model and input: read once per file, not once per test."""
        if path not in self._known:
            self._known[path] = {cassettes.Inputs.from_body(r.body) for r in cassette.requests}
        return self._known[path]

    def cassette_path(self, item: pytest.Item) -> Path:
        path = self.set_dir / f"{Path(str(item.path)).stem}.yaml"  # one cassette per test module
        if self.record_mode == "rewrite" and path not in self._rewritten:
            self._rewritten.add(path)
            path.unlink(missing_ok=True)
        return path

    def endpoint_settings(self) -> tuple[str, str]:
        if self.recording:
            return os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1", os.environ.get("OPENAI_API_KEY") or "no-key-needed"
        return f"https://{cassettes.PLACEHOLDER_HOST}/v1", REPLAY_KEY

    # -- live ------------------------------------------------------------------------------------

    def live(self) -> LiveConfig:
        if self._live is None:
            try:
                if self.live_mode == "off":
                    raise LiveUnavailable("live checks are off (--live off)")
                from embedlab.grading import live

                self._live = live.start_local(self.stack) if self.live_mode == "local" else live.from_environment()
            except LiveUnavailable as err:
                self._live = err
        if isinstance(self._live, LiveUnavailable):
            pytest.skip(str(self._live))
        return self._live

    def live_label(self) -> str:
        """Which endpoint the live checks used, without its address: reports may be shared."""
        if not isinstance(self._live, LiveConfig):
            return "live checks"
        return f"{self._live.model} on " + ("embedlab serve" if self.live_mode == "local" else "your endpoint")

    def finish(self) -> None:
        self.stack.close()
        if self.recording and self.recorded_anything:
            cassettes.write_manifest(
                self.set_dir,
                {
                    "model": self.model,
                    "server": os.environ.get("EMBEDLAB_RECORD_SERVER", "an OpenAI-compatible endpoint"),
                    "recorded": datetime.date.today().isoformat(),
                    "kit_version": __version__,
                },
            )


GRADING = pytest.StashKey[Grading]()


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "exercise(name): the exercise of course.toml a grading test belongs to (the live checks: a module too)",
        "points(n): what a grading test is worth",
        "live: a check against the configured endpoint, not the cassettes",
        "synthetic: a grading test answered by a built-in fake server, not a cassette",
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


def _grading(config: pytest.Config) -> Grading:
    return config.stash[GRADING]


def _graded(item: pytest.Item) -> bool:
    return item.get_closest_marker("exercise") is not None


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Learner:
    """The learner's code under grading (exercises/, solutions/ or --exercises-dir), in its worker."""
    return _grading(pytestconfig).learner


@pytest.fixture
def api(request: pytest.FixtureRequest):
    """The embeddings endpoint for this test: the cassettes, or the live endpoint for `live` tests."""
    from embedlab.grading.endpoint import Endpoint

    grading = _grading(request.config)
    if request.node.get_closest_marker("live"):
        live = grading.live()
        endpoint = Endpoint(live.base_url, live.api_key, live.model)
        yield endpoint
        endpoint.close()
        return
    base_url, key = grading.endpoint_settings()
    path = grading.cassette_path(request.node)
    with grading.vcr.use_cassette(path.name, allow_playback_repeats=True) as cassette:
        is_recorded = None if grading.recording else grading.known_inputs(path, cassette).__contains__
        references = grading.references.setdefault(path, {})
        transport = None if grading.recording else cassettes.replay_transport()
        endpoint = Endpoint(base_url, key, grading.model, is_recorded=is_recorded, references=references, transport=transport)
        yield endpoint
        endpoint.close()
        grading.recorded_anything |= cassette.dirty


@pytest.fixture
def synthetic_api():
    """Make an endpoint answered by a handler in the test, for responses no real server gives.

    `synthetic_api(handler)`: handler(httpx2.Request) -> httpx2.Response; its `model` attribute, if
    it has one, is the model the test passes. Never recorded.
    """
    import httpx2

    from embedlab.grading.endpoint import Endpoint

    made = []

    def make(handler) -> Endpoint:
        model = getattr(handler, "model", "synthetic-model")
        endpoint = Endpoint(
            f"https://{cassettes.PLACEHOLDER_HOST}/v1", REPLAY_KEY, model, transport=httpx2.MockTransport(handler)
        )
        made.append(endpoint)
        return endpoint

    yield make
    for endpoint in made:
        endpoint.close()


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
            outcomes.fail(str(err))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _guarded(item):
        return (yield)


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
            return None, (
                "The code sent a request the recordings do not hold, so the grader cannot answer it: "
                "check the model and the texts it sends."
            )
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
        )
    )


_graded_items: dict[str, pytest.Item] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Grading tests in the course's order; `-k embed` means the exercise embed: exactly its tests,
    whatever other names contain "embed"."""
    graded = [i for i in items if _graded(i)]
    if not graded:
        return
    grading = _grading(config)
    course = grading.course
    for item in graded:
        name = _exercise_of(item)
        if name != LIVE and course.get(name) is None:
            raise pytest.UsageError(
                f"{item.nodeid} grades exercise {name!r}, which {catalogue.FILENAME} does not list: "
                "add an [[exercises]] entry for it or fix the marker"
            )
    if all(_graded(i) for i in items):  # the course's order, stable within an exercise
        items.sort(key=lambda i: (_exercise_of(i) == LIVE, course.index(_exercise_of(i))))
    keyword = (config.option.keyword or "").strip()
    if keyword in course.names:
        chosen = [i for i in items if _exercise_of(i) == keyword]
        dropped = [i for i in items if _exercise_of(i) != keyword]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
        config.option.keyword = ""  # selected here; pytest's own -k would match substrings
        grading.selected = keyword


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    _graded_items.clear()
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
    grading.learner.close()
    if not grading.gradebook.results:
        return
    extra = {
        "kit_version": __version__,
        "cassettes": grading.set_name,
        "graded": grading.learner.package,
        "printed_bytes": grading.learner.printed,
        "isolation": grading.learner.isolation,
    }
    if exitstatus == pytest.ExitCode.OK and any(
        r.status != "passed" for r in grading.gradebook.results if grading.gradebook.scored(r)
    ):
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
