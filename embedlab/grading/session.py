"""One grading session's state: what is graded, against which cassettes and endpoint, with which
results. The plugin keeps one `Grading` per pytest session (`grading_of(config)`)."""

from __future__ import annotations

import datetime
import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from embedlab import __version__, course as catalogue
from embedlab.grading import cassettes
from embedlab.grading.live import LiveConfig, LiveUnavailable
from embedlab.grading.report import Scorecard
from embedlab.handle.learner import Learner

REPLAY_KEY = "replay-needs-no-key"


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
        self.gradebook = Scorecard(score_live=option.score_live)
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
                raise pytest.UsageError(f"no cassette set {self.set_name!r} (with a manifest.json); sets here: {', '.join(known) or 'none'}")
            self.model = manifest["model"]
        from embedlab.handle import sandbox, sweep

        if option.allow_root_worker:
            os.environ[sandbox.ALLOW_ROOT_ENV] = "1"
        self.walls = sandbox.plan(no_namespaces=option.no_sandbox)  # decided once, before any learner code
        if self.walls.refused:
            raise pytest.UsageError(f"embedlab will not grade here: {self.walls.refused}")
        sweep.become_subreaper()  # a process the learner's code detaches comes back to us
        package = self.directory.name
        self.learner = Learner(
            self.directory,
            timeout=self.timeout,
            block=None if package == "solutions" else "solutions",
            isolate=not option.no_sandbox,
        )
        self.learner.launch()
        self.started = True
        if not launch_only:
            self.import_libraries()

    def import_libraries(self) -> None:
        """The libraries the tests need, before the first test: its time goes to the learner; and
        all of them, before learner code runs, so no module file is read after (see `preload`)."""
        from embedlab.grading import preload

        preload.everything()

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


def grading_of(config: pytest.Config) -> Grading:
    return config.stash[GRADING]


def graded(item: pytest.Item) -> bool:
    return item.get_closest_marker("exercise") is not None
