"""What the tests of exercises/applications.py share: the texts they embed (recorded from a real
server, cassettes/; each claim the tests make about them checked on the recorded vectors first)
and the helpers of more than one of them (tests/test_5_top_k.py … test_8_classify.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx2
import numpy as np

from embedlab.testing import NotStarted, RemoteObject, describe_exception, fail
from tests import in_the_worker
from tests.reference import seeded_best_rows, seeded_query

# -- the corpus ------------------------------------------------------------------------------------

# Notes with planted near-duplicates: three paraphrase pairs and one exact duplicate, among
# unrelated texts.
NOTES = [
    "The meeting has been moved to Thursday afternoon.",
    "Bananas are rich in potassium.",
    "How do I reset my password?",
    "Please restart the router and try again.",
    "The violin concert starts at eight tonight.",
    "The meeting was rescheduled for Thursday afternoon.",
    "Glaciers are melting faster every decade.",
    "How can I reset my password?",
    "Because of the strike, the train to Paris was cancelled.",
    "She planted tomatoes in the garden.",
    "Please restart the router and try again.",
    "The train to Paris was cancelled because of the strike.",
    "Our team won the football match on Sunday.",
]
PLANTED = [(0, 5), (2, 7), (3, 10), (8, 11)]  # (3, 10) is the exact duplicate
LOW = 0.6  # every planted pair scores above it, every other pair below (with MARGIN to spare)
CLOSE = [(2, 7), (3, 10), (8, 11)]  # the pairs above the default 0.9; (0, 5) stays below it

# Support tickets to classify. The nearest example's label is not the label with the most
# examples, nor the most common among the three nearest, nor the one whose examples are closest
# on average (their centroid), nor the one sharing the most words with the ticket.
TICKET = "The app crashes every time I open the camera."
TICKET_EXAMPLES = {
    "bugs": [
        "Opening the camera makes the application close immediately.",
        "The export button does nothing on Windows.",
        "Dark mode shows white text on a white background.",
    ],
    "features": [
        "Please add a camera filter for black and white photos.",
        "I wish the app had a camera timer.",
        "Could you add more camera settings?",
        "Add an option to share photos from the camera.",
    ],
    "billing": ["I was charged after I cancelled.", "Where can I download my receipt?"],
}
ORDER = "I was charged twice for my order."
ORDER_EXAMPLES = {
    "billing": ["Why was my card charged two times?", "How do I update the VAT number on my invoices?", "Can I pay by bank transfer?"],
    "shipping": [
        "Where is my order?",
        "My order has not arrived yet.",
        "Can I change the delivery address for my order?",
        "How long does shipping take?",
    ],
    "account": ["I forgot my password.", "How do I delete my account?"],
}
CASES = [(TICKET, TICKET_EXAMPLES, "bugs"), (ORDER, ORDER_EXAMPLES, "billing")]

# The vector store gets NOTES[:6] (one of them twice), then NOTES[4:9] (two it holds already).
STORE_FIRST = NOTES[:6] + [NOTES[0]]
STORE_SECOND = NOTES[4:9]
STORE_QUERY = "When is the meeting?"

MARGIN = 0.05  # how far every claim about the corpus holds on the recorded vectors

# top_k: a big seeded matrix built in the worker (never sent through the pipe), rows not unit length.
BIG = (100_000, 384, 16)  # rows, dimensions, seed
THIN = (100_000, 8, 17)  # for the speed check: with few dimensions, what a loop costs per row shows
SLOWER = 4.0  # how many times a plain vectorised answer's time top_k may take
DUPLICATES_SLOWER = 3.0  # near_duplicates' time once its vectors are in, against the reference's
# Slow means both: past the factor, and by more than a busy machine's hiccup. A loop costs far more
# (a Python loop over 100,000 rows, or 19,900 cosine() calls, is a tenth of a second or more); a
# correct answer graded beside another submission on two cores can lose tens of milliseconds.
SLOW_BY = 0.04  # seconds


def too_slow(took: float, base: float, factor: float) -> bool:
    return took > factor * base and took - base > SLOW_BY


def not_highest_first(shown: str, scores: list[float], slack: float = 0.0) -> str | None:
    """Why `scores` are not highest first, in one sentence (None when they are): every score when
    there are few, else the first place where a lower one comes before a higher one."""
    broken = next((i for i, (a, b) in enumerate(zip(scores, scores[1:])) if a < b - slack), None)
    if broken is None:
        return None
    if len(scores) <= 10:
        return f"{shown} is not sorted highest score first: {[round(s, 4) for s in scores]}"
    return (
        f"{shown} is not sorted highest score first: of its {len(scores)} results, results {broken + 1} and "
        f"{broken + 2} score {scores[broken]:.4f} and {scores[broken + 1]:.4f}"
    )

WORKER_CODE = Path(__file__).with_name("in_the_worker.py")
CLASSIFY_HINT = "classify() embeds the text and every example in one request: the text first (or last), then the examples label by label, in the order given."
DUPLICATES_HINT = "near_duplicates() embeds the texts it is given, as given and in their order, in one request."


# -- shared helpers --------------------------------------------------------------------------------


REPEATED = (
    "a text repeated in one add() call counts once, so embed each new text once, in the order given "
    "(list(dict.fromkeys(texts)) drops the repeats)"
)


def use(api, method, *args, shown: str):
    """Call a method of the learner's object (no client or model to pass): errors in one sentence."""
    first = len(api.sent)
    try:
        return method(*args)
    except NotImplementedError as err:
        raise NotStarted(str(err) or "VectorStore is not written yet.") from None
    except Exception as err:
        unrecorded = [s for s in api.sent[first:] if not s.recorded]
        if unrecorded:
            fail(api.explain_unrecorded(shown, unrecorded[0], "Embed the new texts in one list, once each, in the order given.", repeated=REPEATED))
        fail(describe_exception(shown, err))


def cpu(target, function, *args, **kwargs) -> float:
    """The CPU seconds a call into the worker used, read by the grading process from the kernel's
    accounting of the worker's processes: the learner's code cannot patch that clock, and a busy
    neighbour does not move it."""
    return target.cpu_of(lambda: function(*args, **kwargs))[1]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def is_int(value) -> bool:
    return type(value) is int


def is_float(value) -> bool:
    return type(value) is float


_cache: dict[tuple, RemoteObject] = {}


def in_worker(target, name: str, *args):
    """A value the grader's own code builds in the worker, kept there (made again in a new worker)."""
    key = (name, *args)
    value = _cache.get(key)
    if value is None or not value.alive:
        value = _cache[key] = target.grader_code(WORKER_CODE).function(name, keep=True)(*args)
    return value


def grader(target, name: str):
    return target.grader_code(WORKER_CODE).function(name)


_big: dict[str, object] = {}


def big_case(target):
    """The big seeded matrix (in the worker), a query near three of its rows, and its 540 best rows
    scored exactly: the query and the answer worked out once, in the grading process."""
    rows, dims, seed = BIG
    matrix = in_worker(target, "seeded_matrix", rows, dims, seed)
    if not _big:
        raw, scales = in_the_worker.seeded_parts(rows, dims, seed)
        query = seeded_query(raw, scales, [11, 2024, 77_777], seed)
        _big.update(query=query, best=seeded_best_rows(query, raw, scales, 540))
    return matrix, _big["query"], _big["best"]


def cap_for(factor: float, function, *args) -> float:
    """`factor` times the CPU time the grader's `function(*args)` takes here, in the grading
    process: the most a reference's time in the worker may count (`capped`)."""
    started = time.process_time()
    function(*args)
    return factor * (time.process_time() - started)


def capped(there, cap: float) -> float:
    """A reference's time in the worker, `there()`, and never more than `cap`: the learner's code
    can slow numpy down in its worker, to make a loop look fast beside it, but not in the grading
    process. The cap binds only then: the same work here takes about as long (a loop takes ten or
    a hundred times as long)."""
    try:
        took = there()
    except Exception:  # it failed there: the learner's code broke numpy in its worker
        return cap
    return min(took, cap)


def exact_vectors(axis_of):
    """Synthetic: each text a unit vector along one axis, so every cosine is exactly 0 or 1."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        items = []
        for i, text in enumerate(inputs):
            vector = [0.0, 0.0, 0.0]
            vector[axis_of(text)] = 1.0
            items.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return httpx2.Response(200, json={"object": "list", "data": items, "model": body["model"], "usage": usage})

    answer.model = f"synthetic-exact-{os.getpid()}"
    return answer
