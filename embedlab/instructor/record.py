"""Record a cassette set from the reference solutions: `embedlab record`.

Against the endpoint in `.env` (OPENAI_BASE_URL, OPENAI_API_KEY, EMBED_MODEL), or with --local
against `embedlab serve` started for the occasion. It runs the grading tests on solutions/ in
pytest's record mode `rewrite` (every used cassette recorded afresh), then replays the new set
offline and lints it: a set that does not replay or leaks a header is reported, not shipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cassettes", metavar="NAME", help="the set to write (default: the model's name)")
    parser.add_argument("--cassette-dir", type=Path, help="the folder holding the sets (default: the kit's cassettes/)")
    parser.add_argument("--new-only", action="store_true", help="keep the set and record only what it lacks (new_episodes)")
    local = parser.add_argument_group("recording from a local server (--local)")
    local.add_argument("--local", action="store_true", help="start `embedlab serve` and record from it")
    local.add_argument("--backend", default="wordllama", help="the server's backend (default: wordllama)")
    local.add_argument("--model", help="the server's model (for --backend sentence-transformers)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = kit.find_root()
    from embedlab import course

    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    env = dict(os.environ)
    with ExitStack() as stack:
        if args.local:
            from embedlab.server.launch import LocalServer

            serve_args = ["--backend", args.backend] + (["--model", args.model] if args.model else [])
            server = stack.enter_context(LocalServer(*serve_args))
            env.update(
                OPENAI_BASE_URL=server.base_url,
                OPENAI_API_KEY=server.api_key or "",
                EMBED_MODEL=server.model,
                EMBEDLAB_RECORD_SERVER=" ".join(["embedlab serve", *serve_args]),
            )
            model = server.model
        else:
            from embedlab import common

            if not common.EMBED_MODEL:
                print(f"embedlab record: {common.NO_MODEL_MESSAGE}", file=sys.stderr)
                return 2
            model = common.EMBED_MODEL
        name = args.cassettes or model.replace("/", "-").replace(":", "-")
        mode = "new_episodes" if args.new_only else "rewrite"
        print(f"Recording the cassette set {name} from the solutions ({mode}) …", flush=True)
        where = [f"--cassettes={name}"] + ([f"--cassette-dir={args.cassette_dir.resolve()}"] if args.cassette_dir else [])
        recorded = _pytest(root, env, ["--solutions", f"--record-mode={mode}", "--live=off", *where])
    if recorded != 0:
        print("embedlab record: the solutions did not pass while recording; the set may be incomplete.", file=sys.stderr)
        return recorded
    print(f"Replaying {name} offline …", flush=True)
    offline = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    replayed = _pytest(root, offline, ["--solutions", "--live=off", *where])
    from embedlab.instructor import lint

    problems = lint.check_set(root, (args.cassette_dir or root / "cassettes").resolve() / name)
    for problem in problems:
        print(f"  - {problem}")
    if replayed or problems:
        return 1
    if args.cassette_dir is None:
        from embedlab.instructor import integrity

        integrity.write(root)
    print(f"The set {name} is recorded, replays offline and passes the lint. Review it, then commit it.")
    return 0


def _pytest(root, env: dict, options: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options]
    return subprocess.run(command, cwd=root, env=env).returncode
