"""`embedlab watch`: Rustlings' watch mode for the section.

It grades your exercises, shows the current one (the first not done) with the one sentence that
matters, and grades again within a second of each save of a file in exercises/. When an exercise
passes it says so and moves on. Keys: h shows the full hint, l lists the exercises, q quits.
The grading is plain `pytest`'s (same tests, points and messages), offline, run in a fork of this
already warmed-up process so a save costs well under a second of start-up.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from embedlab.grading.report import Exercise, RunInfo, Scorecard, points_shown, progress_bar, wrap_line

KEYS = "h hint · l list · q quit"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exercises-dir", type=Path, metavar="DIR", help="the exercise files to watch (default: exercises/)")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit
    from embedlab.instructor import runner

    root = kit.find_root()
    from embedlab import course

    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    directory = (args.exercises_dir or root / "exercises").resolve()
    if not directory.is_dir():
        print(f"embedlab watch: {directory} is not a folder", file=sys.stderr)
        return 2
    runner.prepare_grader()
    watch = Watch(root, directory, args.cassettes)
    try:
        with _keys_one_at_a_time():
            return watch.loop()
    except KeyboardInterrupt:  # Ctrl-C: as q, without the file watcher's own words
        sys.stdout.write("\r\n")
        return 0
    finally:
        watch.grader.close()


class Grader:
    """A warm, single-threaded process that forks one grading run per request.

    The file watcher runs threads; a fork from a threaded process can inherit a lock some other
    thread held (and hang). So the forks happen here, in a child started before any thread."""

    def __init__(self, root: Path, arguments: list[str]) -> None:
        from embedlab import wire

        asks_r, self.asks = os.pipe()
        answers, answers_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.asks)
                os.close(answers)
                self._serve(root, arguments, wire.Reader(asks_r), answers_w)
            finally:
                os._exit(0)
        os.close(asks_r)
        os.close(answers_w)
        self.answers = wire.Reader(answers)

    @staticmethod
    def _serve(root: Path, arguments: list[str], asks, answers: int) -> None:
        from embedlab import wire
        from embedlab.instructor import grading_process

        while asks.blocking_frame() is not None:
            wire.send(answers, {"results": grading_process.grade_once(root, arguments)})

    def grade(self) -> dict | None:
        from embedlab import wire

        wire.send(self.asks, {"op": "grade"})
        answer = self.answers.blocking_frame() or {}
        results = answer.get("results")
        return results if isinstance(results, dict) else None

    def close(self) -> None:
        os.close(self.asks)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class Watch:
    def __init__(self, root: Path, directory: Path, cassettes: str | None) -> None:
        self.root, self.directory = root, directory
        from embedlab.grading.arguments import grading_arguments

        self.arguments = grading_arguments(root, directory, cassettes=cassettes)
        self.grader = Grader(root, self.arguments)
        self.book: Scorecard | None = None
        self.news = ""
        self.showing = ""  # "", "hint" or "list"

    def grade(self) -> None:
        results = self.grader.grade()
        before = {e.name for e in self.book.exercises() if e.status == "done"} if self.book else None
        if results is None:
            self.news = "The grader could not run: is the kit complete? (Try `pytest` to see why.)"
            return
        from embedlab import course

        self.book = Scorecard.from_gradescope(results, course=course.load(self.root / course.FILENAME))
        done = [e.name for e in self.graded() if e.status == "done"]
        if before is not None:
            newly = [name for name in done if name not in before]
            if newly:
                current = self.current()
                self.news = f"✓ {', '.join(newly)} {'passes' if len(newly) == 1 else 'pass'}!" + (f" Next: {current.name}." if current else "")
            else:
                self.news = ""

    def graded(self) -> list[Exercise]:
        return [e for e in self.book.exercises() if not e.live] if self.book else []

    def current(self) -> Exercise | None:
        return next((e for e in self.graded() if e.status != "done"), None)

    # -- the screen ------------------------------------------------------------------------------

    def screen(self, width: int, height: int = 24) -> list[str]:
        """The screen, at most `width` columns and `height` rows: the header first and the keys last
        always; what does not fit between them is cut at the end, saying so."""
        width = max(60, min(width, 120))
        height = max(10, height)
        exercises = self.graded()
        if not exercises:
            return ["embedlab watch", "", *wrap_line(self.news or "Grading…", width=width)]
        book = self.book
        done = sum(e.status == "done" for e in exercises)
        lines = [_header(done, len(exercises), book.earned, book.possible, width), ""]
        if self.news:
            lines += [*wrap_line(self.news, indent="", width=width), ""]
        current = self.current()
        if self.showing == "list" or current is None:
            for exercise in exercises:
                marker = ">" if current is not None and exercise.name == current.name else " "
                passed = sum(r.status == "passed" for r in exercise.results)
                lines.append(f"{marker} {exercise.status:<12} {exercise.name:<18} {passed}/{len(exercise.results)} checks"[:width])
            lines.append("")
        if current is None:
            lines += wrap_line("All exercises are done. Now try the live checks: `pytest --live local` (or set EMBED_MODEL in .env).", "", width)
        else:
            lines += wrap_line(f"Current: {current.name} in {current.file} — {current.status}", "", width)
            said = book.next_step([current], RunInfo(), width)[1:]
            said = [said[0].replace("Next: ", "", 1), *said[1:]] if said else []
            if self.showing == "hint":
                from embedlab import course

                hint = " ".join(_hint_of(course, current.name).split())
                if hint and hint in " ".join(" ".join(said).split()):  # a stub's sentence is its hint: say it once
                    said = []
                lines += [*said, *([""] if said else []), *wrap_line(f"Hint for {current.name}: {hint}", "  ", width)]
            else:
                lines += said
        keys = f"Save a file in {self.directory.name}/ to grade again.   {KEYS}"
        body = _within(lines, width)
        room = height - 3  # the keys' blank line and line, and the cursor's row
        if len(body) > room:
            body = body[: room - 1] + ["  … (a taller terminal shows the rest)"[:width]]
        return [*body, "", keys if len(keys) <= width else f"{KEYS}"[:width]]

    def show(self) -> None:
        size = shutil.get_terminal_size((80, 24))
        sys.stdout.write("\x1b[2J\x1b[H" + "\r\n".join(self.screen(size.columns, size.lines)) + "\r\n")
        sys.stdout.flush()

    # -- the loop --------------------------------------------------------------------------------

    def loop(self) -> int:
        import watchfiles

        changes = watchfiles.watch(
            self.directory,
            watch_filter=lambda change, path: path.endswith(".py"),
            debounce=150,
            step=30,
            rust_timeout=100,
            yield_on_timeout=True,
            raise_interrupt=True,  # Ctrl-C ends the loop here, quietly (run() catches it)
        )
        next(changes)  # the watcher is in place before the first grading: no save is missed
        self.grade()
        self.show()
        for changed in changes:
            key = _key()
            if key == "q":
                return 0
            if key in ("h", "l"):
                wanted = "hint" if key == "h" else "list"
                self.showing = "" if self.showing == wanted else wanted
                self.show()
            if changed:
                self.news = "Grading…"
                self.show()
                self.grade()
                self.show()
        return 0


def _header(done: int, count: int, earned: float, possible: float, width: int) -> str:
    """'embedlab watch — 1 of 10 exercises done  [####…]  13/88 points', whole: the bar shrinks,
    then goes, before a word is cut."""
    progress = f"embedlab watch — {done} of {count} {'exercise' if count == 1 else 'exercises'} done"
    points = f"{points_shown(earned)}/{points_shown(possible)} points"
    room = width - len(progress) - len(points) - 4 - 2  # two gaps of two, the bar's brackets
    if room >= 8:
        filled = round(room * earned / possible) if possible else 0
        return f"{progress}  [{'#' * filled}{'-' * (room - filled)}]  {points}" if room < 24 else f"{progress}  {progress_bar(earned, possible)}  {points}"
    return f"{progress}, {points}"[:width]


def _within(lines: list[str], width: int) -> list[str]:
    """Every line at most `width` columns, broken between words (a tab is the terminal's 8)."""
    import textwrap

    fitted = []
    for line in lines:
        line = line.expandtabs()
        if len(line) <= width:
            fitted.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        fitted += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
    return fitted


def _key() -> str:
    if not sys.stdin.isatty():
        return ""
    if select.select([sys.stdin], [], [], 0)[0]:
        return os.read(sys.stdin.fileno(), 1).decode("utf-8", "replace").lower()
    return ""


@contextmanager
def _keys_one_at_a_time():
    """Read single key presses, without Enter, while watching (and restore the terminal after)."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin)
    try:
        tty.setcbreak(sys.stdin.fileno())
        yield
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


def _hint_of(course, name: str) -> str:
    listed = course.load().get(name)
    return listed.hint if listed else "none"
