"""Generated inputs for every exercise: what the recordings cannot hold, over each contract's space.

The recorded cassettes stay the primary evidence; these checks add what a few recorded sentences
cannot show — ties everywhere and at the k-th place, k above n, a zero row among the rows, a
length-1 vector that numpy would broadcast, float16 and lists, tiny and large magnitudes, duplicate
texts, one text under two labels, thresholds a hair above and below a pair's score, vectors that
are not of length 1 (so a dot product is not a cosine), and response items in any order.

Hypothesis makes the inputs (derandomized, no example database, no deadline, a fixed budget per
function); the expected answer is worked out here, in the grading process, by an independent numpy
reference; the learner's function runs in its worker. A failure shows the smallest input
Hypothesis found, the learner's answer and the expected one. Vectors for texts come from
`Generated`, a synthetic endpoint (never recorded, never in cassettes/). The checks themselves
stand in each exercise's test module, beside the recorded ones (`...Generated` classes).
"""

from __future__ import annotations

import hashlib
import math
import secrets

import httpx2
import numpy as np
from hypothesis import HealthCheck, Phase, assume, settings, strategies as st

from embedlab.testing import fail
from tests.synthetic import Synthetic


def budget(examples: int):
    """The same inputs on every run and machine, no clock, at most `examples` of them (and the
    shrinking of a failure)."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )


def run(check) -> None:
    """Run a Hypothesis check; its failure is the learner's smallest counterexample, one sentence."""
    __tracebackhide__ = True
    try:
        check()
    except Exception as err:
        if "Flaky" not in type(err).__name__:
            raise
        fail(f"the same input gave different answers on two calls ({type(err).__name__}): the answer must depend on the input only")


# -- a synthetic endpoint for any text --------------------------------------------------------------


WORDS = ("cat", "dog", "sun", "tree", "box", "rain")
AXES = {"cat": 0, "dog": 1, "sun": 2}  # texts of these words point along an axis: their ties are exact
TAILS = ("one", "two", "three")


class Generated(Synthetic):
    """Any text, a deterministic float32 vector of `dims` numbers. Its direction comes from the
    text's first word, its length from the whole text: 1/4 to 4 times, by a power of two, so texts
    that share their first word tie exactly however a cosine is computed, and a dot product is
    not a cosine. Items come back in a shuffled order; their `index` says where each goes."""

    def __init__(self, dims: int = 6) -> None:
        super().__init__()
        self.model = f"synthetic-generated-{secrets.token_hex(4)}"
        self.dims = dims

    def array(self, text: str) -> np.ndarray:
        first = word(text)
        if first in AXES:  # along one axis: every cosine with it is exact, however it is computed
            direction = np.zeros(self.dims, dtype=np.float32)
            direction[AXES[first] % self.dims] = 1.0
        else:
            seed = int.from_bytes(hashlib.sha256(first.encode()).digest()[:8], "little")
            direction = np.random.default_rng(seed).normal(size=self.dims).astype(np.float32)
        power = hashlib.sha256(text.encode()).digest()[0] % 5 - 2
        return direction * np.float32(2.0**power)  # exact: a power of two

    def vector(self, text: str, position: int) -> list[float]:
        """What `Synthetic` answers for `text` (its request handling, OpenAI's shapes and errors)."""
        return [float(x) for x in self.array(text)]

    def vectors(self, texts: list[str]) -> np.ndarray:
        return np.array([self.array(t) for t in texts], dtype=np.float64)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        answer = super().__call__(request)
        if answer.status_code != 200:
            return answer
        body = answer.json()
        order = np.random.default_rng([self.requests, len(body["data"])]).permutation(len(body["data"]))  # any order, not only reversed
        body["data"] = [body["data"][i] for i in order]
        return httpx2.Response(200, json=body)


texts_st = st.builds(lambda w, t: f"{w} {t}", st.sampled_from(WORDS), st.sampled_from(TAILS))


def cosine_exact(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def is_plain_float(value) -> bool:
    return type(value) is float  # np.float64 is a float subclass: the contract says a plain float


def shown_vector(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()}, dtype={value.dtype.name})"
    return repr(value)


def out_of_order(keys: list, score_of, before, same) -> tuple | None:
    """The first two neighbours in `keys` that are not highest-score first, equal scores by
    `before(a, b)`; None when all are. Equal scores are those `same(a, b)` makes equal to the last
    bit however a cosine is computed (the same directions, a power of two apart); other scores a
    rounding apart (two cosines of 1, say) may come in either order."""
    for a, b in zip(keys, keys[1:]):
        sa, sb = score_of(a), score_of(b)
        if abs(sa - sb) <= 1e-9:
            if same(a, b) and not before(a, b):
                return a, b
        elif sa < sb:
            return a, b
    return None


def word(text: str) -> str:
    """What a generated text's direction comes from (see `Generated.vector`)."""
    return text.split()[0] if text.split() else text


def exactly_tied(*texts: str) -> bool:
    """Texts whose cosines with anything tie to the last bit in every way of computing them: the
    same axis word (a power of two apart). Other equal cosines may differ in the last bit (BLAS
    sums in its own order), and may then come in either order."""
    return len({word(t) for t in texts}) == 1 and word(texts[0]) in AXES


def all_axes(*texts: str) -> bool:
    return all(word(t) in AXES for t in texts)


def assign(given: list, answered: list) -> list[int]:
    """The position in `given` of each answered item: repeated items taken in the order given, so
    a stable sort keeps their positions rising."""
    taken: dict = {}
    places = []
    for item in answered:
        start = taken.get(item, -1) + 1
        index = given.index(item, start) if item in given[start:] else given.index(item)
        taken[item] = index
        places.append(index)
    return places


def close(got, want: float, tolerance: float) -> bool:
    return isinstance(got, (int, float)) and math.isfinite(float(got)) and abs(float(got) - want) <= tolerance * max(1.0, abs(want))


# -- vectors as numbers ------------------------------------------------------------------------------

ELEMENT = st.one_of(st.integers(-3, 3).map(float), st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=16))
FORMS = ("list", "float64", "float32", "float16")


@st.composite
def vector_pairs(draw):
    """Two vectors: equal lengths mostly, sometimes different (a length 1 among them), empty, zero,
    one vector twice (its cosine is 1, which rounding can push a hair past), tiny or large (a
    common scale), as lists or float64 and float32 arrays — or lists of whole numbers, some too
    large for numpy's int64 to hold their products."""
    n = draw(st.integers(0, 6))
    m = draw(st.sampled_from([n, n, n, n, 1, n + 1]))
    form = draw(st.sampled_from(("list", "float64", "float32", "list", "float64", "ints")))
    if form == "ints":
        big = draw(st.sampled_from([1, 10**9, 4 * 10**9]))
        one = lambda size: [draw(st.integers(-3, 3)) * big for _ in range(size)]  # noqa: E731
    else:
        scale = draw(st.sampled_from([1.0, 1.0, 1e-12, 1e-6, 1e-3, 1e3, 1e6]))  # what float32, as embeddings come, holds squared

        def one(size):
            values = [draw(ELEMENT) * scale for _ in range(size)]
            return values if form == "list" else np.array(values, dtype=form)

    if draw(st.integers(0, 3)) == 0:  # one vector of any floats, twice: a cosine of 1 rounds past it a quarter of the time
        values = [draw(st.floats(-3, 3, allow_nan=False, allow_infinity=False)) for _ in range(max(n, 2))]
        assume(any(values))
        return values, list(values)
    return one(n), one(m)


@st.composite
def top_k_cases(draw):
    """Rows made of a few base rows, each times a power of two: equal cosines are exactly equal
    however they are computed (ties everywhere, at the k-th place too), unequal ones far apart."""
    d = draw(st.integers(1, 5))
    cells = st.integers(-2, 2).map(float)
    query_ints = [draw(cells) for _ in range(d)]
    bases = draw(st.lists(st.lists(cells, min_size=d, max_size=d), min_size=1, max_size=4))
    q = np.array(query_ints)
    if np.linalg.norm(q) > 0:
        cosines = [float(np.dot(b, q) / (np.linalg.norm(b) * np.linalg.norm(q))) for b in map(np.array, bases) if np.linalg.norm(b) > 0]
        assume(all(abs(x - y) > 1e-6 for i, x in enumerate(cosines) for y in cosines[i + 1 :]))
    n = draw(st.integers(1, 24))
    form = draw(st.sampled_from(FORMS))
    scale = draw(st.sampled_from([1.0, 1.0, 1e-6, 1e5]))
    if form == "float16":
        scale = 1.0
    rows = []
    for _ in range(n):
        base, power = draw(st.sampled_from(range(len(bases)))), draw(st.sampled_from([1.0, 2.0, 0.5, 4.0]))
        rows.append([x * power * scale for x in bases[base]])
    query = [x * scale for x in query_ints] if draw(st.integers(0, 7)) else [1.0] * (d + 1 if d == 1 else 1)
    k = draw(st.one_of(st.integers(1, n + 3), st.sampled_from([0, -1]))) if draw(st.integers(0, 9)) else draw(st.integers(1, n + 3))
    matrix = rows if form == "list" else np.array(rows, dtype=form)
    return np.array(query, dtype=np.float64) if form != "list" else query, matrix, k


def top_k_expected(query, matrix, k) -> tuple[list[tuple[int, float]] | None, str]:
    q = np.asarray(query, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    if k < 1:
        return None, "k must be at least 1"
    if m.shape[1] != q.shape[0]:
        return None, "the query and the rows have different dimensions"
    if np.linalg.norm(q) == 0:
        return None, "a zero query vector has no direction"
    lengths = np.linalg.norm(m, axis=1)
    if not lengths.all():
        return None, "a zero row has no direction, so no cosine with it"
    scores = (m @ q) / (lengths * np.linalg.norm(q))
    order = sorted(range(len(m)), key=lambda i: (-float(scores[i]), i))
    return [(i, float(scores[i])) for i in order[: min(k, len(m))]], ""


def top_k_scores(query, matrix) -> dict[int, float]:
    q, m = np.asarray(query, dtype=np.float64), np.asarray(matrix, dtype=np.float64)
    return {i: float(s) for i, s in enumerate((m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q)))}


LABELS = ("zeta", "alpha", "mid", "beta")  # not in alphabetical order: ties go to the one listed first


@st.composite
def examples_st(draw):
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=4, unique=True))
    shared = draw(texts_st)  # one text that may stand under two labels
    examples = {}
    for label in labels:
        texts = draw(st.lists(texts_st, min_size=1, max_size=3))
        if draw(st.booleans()):
            texts.append(shared)
        examples[label] = texts
    return examples


