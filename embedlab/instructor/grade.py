"""Grade a whole class offline: `embedlab grade SUBMISSIONS --out grades.csv [--jobs N] [--timeout S]`.

Big classes on several machines: `--shard K/N` grades the K-th of N deterministic shares (every
N-th submission by name, from the K-th), and `embedlab grade --merge PART... --out grades.csv`
joins the shards' gradebooks and results folders into the one a single machine would have written.

Each folder in SUBMISSIONS is one learner's work: their `exercises/` folder, or a full copy of the
kit, or just the exercise files. Each is graded with *your* tests and cassettes — never the
submission's copies — offline, with the same grading as plain `pytest` (the learner's code runs in
a worker process, see `embedlab.handle.learner`).

How one submission cannot change another's grade, or yours:
- every submission's files are read into memory first, before any learner code runs: without
  following symlinks, without opening anything that is not a regular file, size-capped;
- each is graded from a fresh scratch copy of your tests, cassettes and configuration, written
  from a snapshot taken at the start, with no bytecode written or read;
- its results come back over an inherited pipe, never through a file it could write, and count
  only if its grading process exited by itself with the status they imply (see `runner`);
- afterwards every process it left is killed (this process is their child subreaper); where the
  worker could not be given a read-only view of your kit, your kit's files are compared with the
  snapshot and any change is flagged (and never "repaired": you may be editing them);
- one that hangs, crashes or sends garbage gets its own row saying so; the class goes on.

The learner's code runs behind the walls of `embedlab.handle.sandbox` (printed at the start of
the run): an allow-listed view of the files (its own submission, the kit's package and the Python
it needs, read-only), its own user, no network but the grader's, Landlock and seccomp. A layer
this machine cannot raise is named in the table and in each result's `isolation`; a worker that
cannot raise what was planned is refused, never graded with fewer walls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from embedlab import course
from embedlab.instructor.gradebook import Progress, keep_out_of_git, results_json, results_names, summary, write_gradebook
from embedlab.instructor.records import GradeSettings, Snapshot
from embedlab.instructor.submissions import read_submission, submission_folders


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, nargs="?", help="a folder with one sub-folder per submission")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the gradebook CSV (default: grades.csv)")
    parser.add_argument("--results", type=Path, help="where each submission's results.json goes (default: next to --out)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: one per core)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one submission may take in all (default 120)")
    parser.add_argument("--test-timeout", type=float, default=5.0, help="seconds one call to the learner's code may take (default 5)")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")
    parser.add_argument("--no-sandbox", action="store_true", help="no namespaces for the workers (Landlock, seccomp and the user wall still stand)")
    parser.add_argument("--allow-root-worker", action="store_true", help="grade even where a worker can only run as root (named in the results and the CSV)")
    parser.add_argument("--shard", type=_shard, metavar="K/N", help="grade only the K-th of N equal shares of the class (for several machines)")
    parser.add_argument(
        "--merge", nargs="+", type=Path, metavar="PART", help="join the gradebooks of --shard runs (their CSVs, or folders holding them) into --out"
    )


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    results_dir = args.results or args.out.with_name(args.out.stem + "-results")
    if args.merge:
        from embedlab.instructor import shards

        return shards.merge(args.merge, args.out, results_dir)
    if args.submissions is None:
        print("embedlab grade: give the folder of submissions (or --merge PART...)", file=sys.stderr)
        return 2
    root = kit.find_root()
    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    if not args.submissions.is_dir():
        print(f"embedlab grade: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    snapshot = Snapshot.take(root)
    folders = submission_folders(args.submissions)
    if not folders:
        print(f"embedlab grade: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    names = results_names([entry.name for entry in folders])  # the whole class's: shards name files alike
    if args.shard:
        k, n = args.shard
        folders = folders[k - 1 :: n]
    submissions = [read_submission(entry.name, Path(entry.path), snapshot) for entry in folders]
    results_dir.mkdir(parents=True, exist_ok=True)
    keep_out_of_git(results_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    readonly = [root.resolve(), args.submissions.resolve(), results_dir.resolve(), args.out.parent.resolve()]
    from embedlab.instructor import grading_process, runner

    refused = runner.decide_walls("grade", no_sandbox=args.no_sandbox, allow_root=args.allow_root_worker)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    settings = GradeSettings(root, args.cassettes, args.timeout, args.test_timeout, tuple(readonly))
    rows = runner.Rows(args.out, results_dir, names, lambda: grading_process.every_test(settings, snapshot))  # each row as it is done
    graded = runner.grade_all(submissions, settings, snapshot, jobs=max(1, args.jobs), progress=Progress(len(submissions)), on_done=rows.add)
    every_test = rows.every_test() if any(g.results is None for g in graded) else None
    for one in graded:
        data = results_json(one, every_test)
        one.max_score = one.max_score or float(data.get("max_score") or 0)
        (results_dir / names[one.name]).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    write_gradebook(args.out, graded, names)
    from embedlab.instructor import pages, similarity

    # The whole class's pairs (every shard compares them all, alike); never stops the grades.
    similar = similarity.beside_gradebook(args.submissions, args.out, root)

    report = pages.write_report(args.out, results_dir, {g.name: names[g.name] for g in graded})  # grades-report.html
    if args.shard:
        from embedlab.instructor import shards

        shards.write_part(args.out, results_dir, args.shard, names, [g.name for g in graded], settings)
    print(summary(graded, args.out, results_dir, report))
    print(similar)
    return 0
