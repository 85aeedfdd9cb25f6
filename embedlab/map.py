"""Draw the meaning space you just measured: `embedlab map [--offline] [--text "..."] [--out map.html]`.

Embeds the section's documents, the dog sentence and the query (and each `--text` you add) through
the endpoint in `.env` — or, with `--offline`, replays the vectors recorded in `cassettes/` — and
writes `map.html`: the texts placed in 2-D by PCA (numpy's SVD), a heatmap of the cosine of every
pair with its value, and the query's ranking beside it. One self-contained page, no script.

Once your `embed` and `cosine` are done (the grader says so), the picture is drawn with them: they
run in a worker process, exactly as when they are graded, and their vectors and scores are what
you see. Until then the reference computation draws it (the endpoint's vectors, numpy's cosine),
and the page says which. Which of your functions it uses is data: the `[map]` table of
course.toml.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab import course, kit, pictures, section

OFFLINE_BASE_URL = "https://embeddings.invalid/v1"  # never reached: answered from the recordings
GRADING_TIMEOUT = 300.0
SHORT = 34  # characters of a text shown beside its point


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="replay the recorded vectors in cassettes/ instead of calling your endpoint")
    parser.add_argument("--text", action="append", default=[], metavar="TEXT", help="add a sentence of your own (repeat for more)")
    parser.add_argument("--out", type=Path, default=Path("map.html"), help="the page to write (default: map.html)")
    parser.add_argument("--cassettes", metavar="NAME", help="with --offline: the recorded set to replay (default: the kit's)")
    parser.add_argument("--exercises", type=Path, metavar="DIR", help="your exercise files (default: exercises/ of the kit)")


@dataclass
class Picture:
    """What the page shows: the texts, their vectors and cosines, and how they were made."""

    texts: list[str]
    kinds: list[str]  # document | dog | query | yours
    vectors: np.ndarray
    cosines: np.ndarray
    model: str
    source: str  # where the vectors came from, in words
    drawn_with: str  # whose functions, in words
    notes: list[str] = field(default_factory=list)

    @property
    def query(self) -> int:
        return self.kinds.index("query")

    def ranking(self) -> list[tuple[float, int]]:
        """Every other text by its cosine with the query, highest first (ties in order)."""
        q = self.query
        scored = [(float(self.cosines[q, i]), i) for i in range(len(self.texts)) if i != q]
        return sorted(scored, key=lambda pair: -pair[0])

    def projection(self) -> tuple[np.ndarray, float]:
        """2-D coordinates by PCA (SVD of the centred unit vectors) and the share of variance kept."""
        return project(self.vectors)


def project(vectors: np.ndarray) -> tuple[np.ndarray, float]:
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    centred = units - units.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    total = float((s**2).sum())
    return coords, (float((s[:2] ** 2).sum()) / total if total else 1.0)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.clip(units @ units.T, -1.0, 1.0)


# -- where the vectors come from -----------------------------------------------------------------


class Recordings:
    """The recorded answers of one cassette set, by model and input: replayed as an httpx2 transport."""

    def __init__(self, directory: Path) -> None:
        from embedlab.grading import cassettes

        self.directory = directory
        self.model = str(cassettes.read_manifest(directory).get("model") or "")
        self.answers: dict[Any, bytes] = {}
        for path in sorted(directory.glob("*.yaml")):
            for interaction in cassettes.load_interactions(path):
                inputs = cassettes.Inputs.from_body(interaction["request"].get("body"))
                body = interaction["response"]["body"].get("string")
                if inputs is not None and interaction["response"]["status"]["code"] == 200 and body:
                    self.answers.setdefault(inputs, body.encode() if isinstance(body, str) else body)

    def holds(self, texts: list[str]) -> bool:
        from embedlab.grading.cassettes import Inputs

        return Inputs(self.model, tuple(texts)) in self.answers

    def transport(self):
        import httpx2

        from embedlab.grading.cassettes import Inputs

        def answer(request):
            inputs = Inputs.from_body(request.content)
            body = self.answers.get(inputs) if inputs is not None else None
            if body is None:
                error = {"error": {"message": "not in the recordings", "type": "invalid_request_error", "param": "input", "code": None}}
                return httpx2.Response(404, json=error)
            if Inputs.encoding_of(request.content) == "base64":  # what a real server sends for base64
                payload = json.loads(body)
                for item in payload.get("data") or []:
                    if isinstance(item.get("embedding"), list):
                        packed = struct.pack(f"<{len(item['embedding'])}f", *item["embedding"])
                        item["embedding"] = base64.b64encode(packed).decode()
                body = json.dumps(payload).encode()
            return httpx2.Response(200, headers={"content-type": "application/json"}, content=body)

        return httpx2.MockTransport(answer)


class MapError(Exception):
    """The map cannot be drawn; the message says why in one sentence."""


def endpoint_for(offline: bool, root: Path, set_name: str | None):
    """The grader's Endpoint (the same hop a test uses) and the recordings when offline."""
    from embedlab.grading import cassettes
    from embedlab.grading.endpoint import Endpoint

    if offline:
        name = set_name or cassettes.DEFAULT_SET
        recordings = Recordings(root / "cassettes" / name)
        if not recordings.model:
            known = sorted(p.parent.name for p in (root / "cassettes").glob(f"*/{cassettes.MANIFEST}"))
            raise MapError(f"there is no recorded set {name!r} in cassettes/ (sets here: {', '.join(known) or 'none'})")
        endpoint = Endpoint(OFFLINE_BASE_URL, "replay-needs-no-key", recordings.model, transport=recordings.transport())
        return endpoint, recordings
    from embedlab import common

    if not common.EMBED_MODEL:
        raise MapError(common.NO_MODEL_MESSAGE + " Or draw the recorded vectors: `embedlab map --offline`.")
    base_url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    endpoint = Endpoint(base_url, os.environ.get("OPENAI_API_KEY") or "no-key-needed", common.EMBED_MODEL)
    return endpoint, None


def done_exercises(root: Path, directory: Path, names: list[str], set_name: str | None) -> dict[str, str]:
    """Each named exercise's status as the grader sees it (done, failing, not started), offline,
    in a pytest run of its own: the same grading as `pytest`."""
    modules = grading_modules(root / "tests", names)
    with tempfile.TemporaryDirectory(prefix="embedlab-map-") as scratch:
        report = Path(scratch) / "results.json"
        from embedlab.grading.arguments import grading_arguments

        command = [sys.executable, "-m", "pytest", *grading_arguments(root, directory, modules, set_name), f"--grade-json={report}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        try:
            subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=GRADING_TIMEOUT, check=False)
            exercises = json.loads(report.read_text(encoding="utf-8")).get("extra_data", {}).get("exercises", {})
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return {name: "not graded" for name in names}
    return {name: str((exercises.get(name) or {}).get("status", "not started")) for name in names}


def grading_modules(tests: Path, names: list[str]) -> list[Path]:
    """The test modules that mark any of `names` with `@pytest.mark.exercise(...)`, read from their
    source: only those run (every test of those exercises, and nothing else to wait for)."""
    found = [path for path in sorted(tests.glob("test_*.py")) if any(name in names for name in course.exercise_marks(path))]
    return found or [tests]


def _groups(texts: list[str], query: str, extra: list[str], recordings: Recordings | None) -> tuple[list[list[str]], list[str]]:
    """The requests to make — the section's texts and the query in one, each text of yours alone
    when replaying (recordings hold whole requests) — and the texts the recordings lack."""
    if recordings is None:
        return [texts + [query] + extra], []
    base = texts + [query]
    if recordings.holds(base):
        groups = [base]
    elif all(recordings.holds([t]) for t in base):
        groups = [[t] for t in base]  # one recorded request per text
    else:
        lacking = next(t for t in base if not recordings.holds([t]))
        raise MapError(
            f"the recordings in cassettes/{recordings.directory.name}/ hold neither these {len(base)} texts as one request "
            f"nor each alone (not {lacking!r}): record them with `embedlab record`, or drop --offline"
        )
    missing = [t for t in extra if not recordings.holds([t])]
    return groups + [[t] for t in extra if t not in missing], missing


def draw(
    root: Path,
    *,
    offline: bool,
    extra: list[str],
    exercises: Path,
    set_name: str | None = None,
    timeout: float = 20.0,
) -> Picture:
    catalogue = course.checked(root)  # [map] included: its functions are an exercise's
    spec = catalogue.map
    texts = list(spec.texts) if spec and spec.texts else [*section.DOCS, section.DOG]
    query = spec.query if spec and spec.query else section.QUERY
    extra = [t for t in dict.fromkeys(t.strip() for t in extra) if t and t not in texts and t != query]
    endpoint, recordings = endpoint_for(offline, root, set_name)
    try:
        groups, missing = _groups(texts, query, extra, recordings)
        drawn = [t for group in groups for t in group]
        kinds = ["document"] * len(section.DOCS) + ["dog"] if not (spec and spec.texts) else ["document"] * len(texts)
        kinds = kinds + ["query"] + ["yours"] * (len(drawn) - len(texts) - 1)
        notes = []
        if missing:
            shown = "; ".join(f"“{t}”" for t in missing)
            notes.append(
                f"Not in the recordings, so not drawn: {shown}. Offline, only the texts the cassettes hold can be "
                "embedded — drop --offline to send yours to the endpoint in .env."
            )
        source = f"replayed from the recordings in cassettes/{recordings.directory.name}/ (offline)" if recordings is not None else "from your endpoint in .env"
        reference = np.vstack([endpoint.reference(group).vectors for group in groups])  # first: an endpoint that fails says so at once
        learner_result = None
        if spec is not None:
            learner_result = _with_learner(root, catalogue, spec, exercises, endpoint, groups, set_name if offline else None, timeout)
        if isinstance(learner_result, tuple):
            vectors, cosines, drawn_with = learner_result
        else:
            vectors = reference
            cosines = cosine_matrix(vectors)
            why = learner_result or "the course names no functions to draw with (no [map] in course.toml)"
            drawn_with = f"the reference computation — the endpoint's vectors, compared with numpy — because {why}"
        return Picture(drawn, kinds, vectors, cosines, endpoint.model, source, drawn_with, notes)
    finally:
        endpoint.close()


def _with_learner(root, catalogue, spec, exercises: Path, endpoint, groups, set_name, timeout):
    """Your vectors and cosines, through the worker as grading runs them; or why not, in words."""
    embed_of, similarity_of = spec.exercise_of(catalogue, spec.embedding), spec.exercise_of(catalogue, spec.similarity)
    needed = list(dict.fromkeys([embed_of.name, similarity_of.name]))
    statuses = done_exercises(root, exercises, needed, set_name)
    if all(status == "not graded" for status in statuses.values()):
        return "grading your exercises did not finish (run `pytest` to see why)"
    pending = [f"your {name} is {status}" for name, status in statuses.items() if status != "done"]
    if pending:
        return " and ".join(pending) + " (run `pytest` to see why)"
    from embedlab.handle.learner import Learner
    from embedlab.handle.values import CallFailed

    answers = exercises.resolve().name == "solutions"  # the kit's own answers (as `pytest --solutions`)
    learner = Learner(  # as grading starts it: behind the same walls (nothing of the kit but the package)
        exercises,
        timeout=timeout,
        block=None if answers else "solutions",
    )
    embed = learner.function(*spec.embedding)
    similarity = learner.function(*spec.similarity)
    shown = f"{spec.embedding[1]}() and {spec.similarity[1]}()"
    try:
        vectors = np.vstack([np.asarray(embed(group, client=endpoint.client, model=endpoint.model), dtype=np.float64) for group in groups])
        if vectors.shape[0] != sum(len(g) for g in groups):
            return f"your {spec.embedding[1]}() returned {vectors.shape[0]} rows for {sum(len(g) for g in groups)} texts"
        n = len(vectors)
        cosines = np.eye(n)
        for i in range(n):
            for j in range(i, n):
                cosines[i, j] = cosines[j, i] = float(similarity(vectors[i], vectors[j]))
    except (CallFailed, Exception) as err:  # noqa: BLE001 - any failure of the learner's code: say it, draw the reference
        return f"your {shown} failed here: {pictures.shorten(str(err), 200)}"
    finally:
        learner.close()  # the worker is killed, and whatever it left
    files = sorted({f"exercises/{embed_of.file}", f"exercises/{similarity_of.file}"})
    return vectors, cosines, f"your own {shown} from {' and '.join(files)} (both done), run in a worker as grading runs them"


# -- the page ------------------------------------------------------------------------------------

COLOURS = {"document": "#4a6fd0", "dog": "#c8861c", "query": "#c2334d", "yours": "#2e9a5a"}


def render(picture: Picture) -> str:
    text = pictures.text
    n = len(picture.texts)
    body = [
        "<h1>The meaning space you measured</h1>",
        f'<p class="note">{n} texts embedded with <b>{text(picture.model)}</b>, {pictures.prose(picture.source)}.</p>',
        f'<p id="drawn-with"><b>Drawn with</b> {pictures.prose(picture.drawn_with)}.</p>',
        *(f'<p class="warning" id="not-recorded">{pictures.prose(note)}</p>' for note in picture.notes),
        '<div class="row">',
        _scatter(picture),
        _ranking(picture),
        "</div>",
        "<h2>Cosine similarity of every pair</h2>",
        _heatmap(picture),
        '<p class="note small">1.0: the same direction (the same meaning); 0: unrelated; below 0: opposed. '
        "A text with itself always scores 1.0. Written by <code>embedlab map</code>.</p>",
    ]
    style = ".warning{background:#fff4d6;border-left:3px solid #d9a21b;padding:6px 10px}table.heat td{width:58px;text-align:center;font-variant-numeric:tabular-nums}table.heat th.t{max-width:260px;font-weight:normal}"
    return pictures.page("embedlab map — the meaning space", "\n".join(body), style)


def _scatter(picture: Picture, width: int = 560, height: int = 440) -> str:
    text = pictures.text
    coords, kept = picture.projection()
    pad = 46
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    scale = min((width - 2 * pad) / span[0], (height - 2 * pad) / span[1])
    centre = (low + high) / 2
    parts = [
        f'<div><h2>In two dimensions</h2><svg id="scatter" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="texts placed by PCA">'
        f'<rect width="{width}" height="{height}" fill="#fafbfd" stroke="#dde2ea"/>'
    ]
    points = [(width / 2 + (x - centre[0]) * scale, height / 2 - (y - centre[1]) * scale) for x, y in coords]
    placed: list[tuple[float, float, float]] = []  # labels so far: left, right, baseline
    for i in sorted(range(len(points)), key=lambda k: points[k][1]):
        px, py = points[i]
        kind = picture.kinds[i]
        label = f"{i + 1}. {pictures.shorten(picture.texts[i], SHORT)}"
        anchor = "end" if px > width * 0.62 else "start"
        span = 6.6 * len(label)
        left = px - 9 - span if anchor == "end" else px + 9
        ly = py + 4
        while any(a < left + span and left < b and abs(ly - y) < 14 for a, b, y in placed):
            ly += 14  # below a label it would cover
        placed.append((left, left + span, ly))
        parts.append(
            f'<g class="point" data-index="{i + 1}" data-kind="{kind}"><circle cx="{px:.1f}" cy="{py:.1f}" r="{7 if kind == "query" else 5.5}" '
            f'fill="{COLOURS[kind]}"><title>{text(picture.texts[i])}</title></circle>'
            f'<text x="{px + (-9 if anchor == "end" else 9):.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="12">{text(label)}</text></g>'
        )
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{COLOURS[k]}">●</span> {k if k != "yours" else "your texts"}' for k in COLOURS if k in picture.kinds)
    parts.append(
        f'<p class="note small" style="max-width:{width}px">{legend}<br>Placed by PCA (numpy’s SVD of the centred, unit-length vectors): '
        f"these two axes keep {kept:.0%} of the spread of {picture.vectors.shape[1]} dimensions. "
        "Distances in 2-D only approximate the cosines: the heatmap below has the exact values.</p></div>"
    )
    return "".join(parts)


def _ranking(picture: Picture) -> str:
    text = pictures.text
    q = picture.query
    rows = "".join(
        f'<tr data-index="{i + 1}"><td class="num score">{pictures.number(score)}</td><td>{i + 1}. {text(picture.texts[i])}</td></tr>'
        for score, i in picture.ranking()
    )
    return (
        f"<div><h2>Ranked for the query</h2><p>“{text(picture.texts[q])}” (text {q + 1})</p>"
        f'<table id="ranking"><tr><th class="num">score</th><th>text</th></tr>{rows}</table>'
        '<p class="note small">The tiny semantic search of the section: highest score first.</p></div>'
    )


def _heatmap(picture: Picture) -> str:
    text = pictures.text
    n = len(picture.texts)
    head = "".join(f'<th class="num" title="{text(t)}">{i + 1}</th>' for i, t in enumerate(picture.texts))
    rows = []
    for i in range(n):
        cells = "".join(
            f'<td data-i="{i + 1}" data-j="{j + 1}" style="background:{pictures.diverging(picture.cosines[i, j])};'
            f'color:{pictures.ink(picture.cosines[i, j])}">{pictures.number(picture.cosines[i, j], 2 if n > 14 else 3)}</td>'
            for j in range(n)
        )
        rows.append(f'<tr><th class="t">{i + 1}. {text(pictures.shorten(picture.texts[i], 60))}</th>{cells}</tr>')
    return f'<table class="heat" id="heatmap"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


# -- the command ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        root = kit.find_root()
        exercises = (args.exercises or root / "exercises").resolve()
        if not exercises.is_dir():
            raise MapError(f"{exercises} is not a folder of exercise files")
        picture = draw(root, offline=args.offline, extra=args.text, exercises=exercises, set_name=args.cassettes)
    except (MapError, course.CourseError, kit.KitNotFound) as err:
        print(f"embedlab map: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the endpoint: unreachable, a refused key, a chat-only model
        print(f"embedlab map: the endpoint could not turn the texts into vectors ({_endpoint_problem(err)})", file=sys.stderr)
        return 1
    path = pictures.write(args.out, render(picture))
    for note in picture.notes:
        print(note)
    print(f"Drawn with {picture.drawn_with}.")
    print(f"map: {path}  (open it in a browser)")
    return 0


def _endpoint_problem(err: Exception) -> str:
    from embedlab.common import api_message

    if "Connect" in type(err).__name__:
        return "nothing answers at OPENAI_BASE_URL: is the server running? `embedlab serve` starts one; `--offline` needs none"
    return f"{type(err).__name__}: {pictures.shorten(api_message(err), 200)}"
