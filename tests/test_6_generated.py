"""Every exercise on generated inputs: what the recordings cannot hold, over each contract's space.

The recorded cassettes stay the primary evidence; these checks add what a few recorded sentences
cannot show — ties everywhere and at the k-th place, k above n, a zero row among the rows, a
length-1 vector that numpy would broadcast, float16 and lists, tiny and large magnitudes, duplicate
texts, one text under two labels, thresholds a hair above and below a pair's score, vectors that
are not of length 1 (so a dot product is not a cosine), and response items in any order.

Hypothesis makes the inputs (derandomized, no example database, no deadline, a fixed budget per
function); the expected answer is worked out here, in the grading process, by an independent numpy
reference; the learner's function runs in its worker. A failure shows the smallest input
Hypothesis found, the learner's answer and the expected one. Vectors for texts come from
`Generated`, a synthetic endpoint (never recorded, never in cassettes/).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import struct

import httpx2
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from embedlab.grading.outcomes import NotStarted, brief, expect, fail
from embedlab.worker.values import CallFailed, RemoteObject, watch
from tests.reference import raises
from tests.test_5_applications import use
from tests.synthetic import error


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


class Generated:
    """Any text, a deterministic float32 vector of `dims` numbers. Its direction comes from the
    text's first word, its length from the whole text: 1/4 to 4 times, by a power of two, so texts
    that share their first word tie exactly however a cosine is computed, and a dot product is
    not a cosine. Items come back in a shuffled order; their `index` says where each goes."""

    def __init__(self, dims: int = 6) -> None:
        self.model = f"synthetic-generated-{secrets.token_hex(4)}"
        self.dims = dims
        self.requests = 0

    def vector(self, text: str) -> np.ndarray:
        first = word(text)
        if first in AXES:  # along one axis: every cosine with it is exact, however it is computed
            direction = np.zeros(self.dims, dtype=np.float32)
            direction[AXES[first] % self.dims] = 1.0
        else:
            seed = int.from_bytes(hashlib.sha256(first.encode()).digest()[:8], "little")
            direction = np.random.default_rng(seed).normal(size=self.dims).astype(np.float32)
        power = hashlib.sha256(text.encode()).digest()[0] % 5 - 2
        return direction * np.float32(2.0**power)  # exact: a power of two

    def vectors(self, texts: list[str]) -> np.ndarray:
        return np.array([self.vector(t) for t in texts], dtype=np.float64)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        try:
            body = json.loads(request.content)
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.", None, None)
        if body.get("model") != self.model:
            return error(404, f"The model `{body.get('model')}` does not exist or you do not have access to it.", None, "model_not_found")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return error(400, "'input' : input must be a string or an array of strings", "input", None)
        as_base64 = body.get("encoding_format") == "base64"
        items = []
        for index, text in enumerate(texts):
            vector = self.vector(text)
            shown = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else [float(x) for x in vector]
            items.append({"object": "embedding", "index": index, "embedding": shown})
        order = np.random.default_rng([self.requests, len(items)]).permutation(len(items))  # any order, not only reversed
        tokens = sum(len(t.split()) + 2 for t in texts)
        data = [items[i] for i in order]
        return httpx2.Response(200, json={"object": "list", "data": data, "model": self.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


texts_st = st.builds(lambda w, t: f"{w} {t}", st.sampled_from(WORDS), st.sampled_from(TAILS))


def cosine_exact(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def is_plain_float(value) -> bool:
    return type(value) is float  # np.float64 is a float subclass: the contract says a plain float


def shown_vector(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({value.astype(np.float64).tolist()}, dtype={value.dtype.name})"
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
    tiny or large (a common scale), as lists or float64 and float32 arrays."""
    n = draw(st.integers(0, 6))
    m = draw(st.sampled_from([n, n, n, n, 1, n + 1]))
    scale = draw(st.sampled_from([1.0, 1.0, 1e-6, 1e-3, 1e3, 1e6]))  # what float32, as embeddings come, holds squared
    form = draw(st.sampled_from(("list", "float64", "float32")))  # cosine's contract names lists and arrays, no width

    def one(size):
        values = [draw(ELEMENT) * scale for _ in range(size)]
        return values if form == "list" else np.array(values, dtype=form)

    return one(n), one(m)


@pytest.mark.exercise("cosine")
class TestCosineGenerated:
    @pytest.mark.points(1)
    def test_agrees_with_the_formula_on_generated_vectors(self, target):
        """Any two vectors: lists or arrays, tiny or large, of length 1 and mismatched"""
        cosine = target.function("similarity", "cosine")
        try:
            cosine([3.0, 4.0], [3.0, 4.0])
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001 - judged below, with the smallest input
            pass

        @budget(60)
        @given(vector_pairs())
        def check(pair):
            a, b = pair
            shown = f"cosine({shown_vector(a)}, {shown_vector(b)})"
            na, nb = np.linalg.norm(np.asarray(a, dtype=np.float64)), np.linalg.norm(np.asarray(b, dtype=np.float64))
            if len(a) != len(b) or len(a) == 0 or na == 0 or nb == 0:
                why = "the vectors have different lengths" if len(a) != len(b) else ("they are empty" if len(a) == 0 else "a zero vector has no direction")
                raises(ValueError, lambda: cosine(a, b), shown=shown, why=why)
                return
            want = cosine_exact(a, b)
            got = cosine(a, b)
            expect(is_plain_float(got), f"{shown} returned {brief(got)}, a {type(got).__name__}; return a plain float: float(...)")
            expect(
                close(got, want, 1e-6),
                f"{shown} returned {got!r}; the cosine of these numbers is {want!r} — compute it in float64 "
                "(np.asarray(v, dtype=float)) from both whole vectors",
            )

        run(check)


# -- rank --------------------------------------------------------------------------------------------


@pytest.mark.exercise("rank")
class TestRankGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_ranks_generated_docs_like_the_reference(self, target, synthetic_api):
        """Any docs, repeated and tied, vectors not of length 1, items in any order"""
        rank = target.function("similarity", "rank")
        server = Generated()
        api = synthetic_api(server)
        api.call(rank, "cat one", ["dog two"])

        @budget(30)
        @given(texts_st, st.lists(texts_st, min_size=1, max_size=8))
        def check(query, docs):
            shown = f"rank({query!r}, {docs})"
            q = server.vector(query).astype(np.float64)
            scores = [cosine_exact(q, server.vector(d)) for d in docs]
            order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
            want = [(scores[i], docs[i]) for i in order]
            got = api.call(rank, query, list(docs))
            expect(isinstance(got, list) and len(got) == len(docs), f"{shown} returned {brief(got)}; one (score, doc) per doc: {len(docs)}")
            expect(all(isinstance(item, (tuple, list)) and len(item) == 2 for item in got), f"{shown} returned {brief(got)}; each item is (score, doc)")
            expect(sorted(map(str, (d for _, d in got))) == sorted(docs), f"{shown} returned the docs {[d for _, d in got]}; every doc once, as given: {docs}")
            expected = [f"({s:.6f}, {d!r})" for s, d in want]
            places = assign(docs, [d for _, d in got])  # which given doc each answer is (repeats in the order given)
            for item, i in zip(got, places):
                expect(
                    close(item[0], scores[i], 1e-5),
                    f"{shown} scored {item[1]!r} {item[0]!r}; its cosine with the query is {scores[i]:.6f} — a cosine, "
                    "not a dot product: these vectors are not of length 1",
                )
            broken = out_of_order(places, lambda i: scores[i], lambda a, b: a < b, lambda a, b: exactly_tied(docs[a], docs[b]))
            expect(
                broken is None,
                f"{shown} gave the docs in the order {[d for _, d in got]}; expected {', '.join(expected)}: highest score "
                "first, equal scores in the docs' order (a stable sort on the score alone)",
            )

        run(check)


# -- embed -------------------------------------------------------------------------------------------


@pytest.mark.exercise("embed")
class TestEmbedGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_places_each_row_by_its_index_whatever_the_order(self, target, synthetic_api):
        """Items come back in any order: row i is texts[i]"""
        embed = target.function("embed", "embed")
        server = Generated(dims=5)
        api = synthetic_api(server)
        api.call(embed, ["cat one"])

        @budget(30)
        @given(st.lists(texts_st, min_size=1, max_size=9))
        def check(texts):
            shown = f"embed({texts})"
            got = api.call(embed, list(texts))
            want = server.vectors(texts)
            expect(isinstance(got, np.ndarray) and got.shape == want.shape, f"{shown} returned {brief(got)}; a numpy array of shape {want.shape}")
            wrong = [i for i in range(len(texts)) if not np.allclose(got[i], want[i], rtol=1e-6, atol=1e-7)]
            expect(
                not wrong,
                f"{shown}: row {wrong[0] if wrong else 0} is not the vector of {texts[wrong[0]] if wrong else ''!r}. The server "
                "sent the items in another order: put each item's vector at row item.index",
            )

        run(check)


# -- top_k -------------------------------------------------------------------------------------------


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


@pytest.mark.exercise("top_k")
class TestTopKGenerated:
    @pytest.mark.points(1)
    def test_agrees_with_the_reference_on_generated_matrices(self, target):
        """Ties everywhere and at the k-th place, k above n, zero rows, float16 to float64, lists; arguments unchanged"""
        top_k = target.function("applications", "top_k")
        try:
            top_k([1.0, 0.0], [[1.0, 0.0]], 1)
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001
            pass

        @budget(60)
        @given(top_k_cases())
        def check(case):
            query, matrix, k = case
            shown = f"top_k({shown_vector(query)}, {shown_vector(matrix) if isinstance(matrix, np.ndarray) else matrix}, k={k})"
            want, why = top_k_expected(query, matrix, k)
            if want is None:
                raises(ValueError, lambda: top_k(query, matrix, k), shown=shown, why=why)
                return
            exact = top_k_scores(query, matrix)
            query_before = np.array(query, dtype=np.float64)
            matrix_before = np.array(matrix, dtype=np.float64)
            q_given, m_given = (query.copy(), matrix.copy()) if isinstance(query, np.ndarray) else (list(query), [list(r) for r in matrix])
            got = top_k(watch(q_given), watch(m_given), k)
            expect(
                np.array_equal(np.asarray(q_given, dtype=np.float64), query_before) and np.array_equal(np.asarray(m_given, dtype=np.float64), matrix_before),
                f"{shown} changed its arguments in place (normalised them?); work on copies and leave the query and the rows as they were",
            )
            expect(isinstance(got, list) and len(got) == len(want), f"{shown} returned {brief(got)}; expected {len(want)} (row, score) pairs: {want}")
            for place, (item, (index, score)) in enumerate(zip(got, want)):
                expect(isinstance(item, (tuple, list)) and len(item) == 2, f"{shown} returned the item {brief(item)}; each is (row index, score)")
                expect(type(item[0]) is int and is_plain_float(item[1]), f"{shown} returned {brief(item)}; a plain int and a plain float: int(i), float(s)")
                if item[0] != index and not (exact.get(item[0]) is not None and abs(exact[item[0]] - score) <= 1e-9 and exact[item[0]] != score):
                    fail(
                        f"{shown} put row {item[0]} at place {place + 1}; expected row {index} (cosine {score:.6f}). "
                        f"Expected {[(i, round(s, 4)) for i, s in want]}: highest cosine first, equal scores by the lower row "
                        "index — also the rows tied with the k-th (a stable sort: np.argsort(-scores, kind='stable'))"
                    )
                expect(
                    close(item[1], score, 1e-4),
                    f"{shown} scored row {index} {item[1]!r}; its cosine is {score!r} — compute in float64, dividing by both lengths",
                )

        run(check)


# -- near_duplicates ---------------------------------------------------------------------------------


@pytest.mark.exercise("near_duplicates")
class TestNearDuplicatesGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_agrees_with_the_reference_on_generated_texts(self, target, synthetic_api):
        """Repeated texts, ties, thresholds a hair above and below a pair's score"""
        near = target.function("applications", "near_duplicates")
        server = Generated()
        api = synthetic_api(server)
        api.call(near, ["cat one", "cat two"], 0.5)

        @budget(40)
        @given(st.lists(texts_st, min_size=0, max_size=8), st.data())
        def check(texts, data):
            vectors = server.vectors(texts)
            pairs = {(i, j): cosine_exact(vectors[i], vectors[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))}
            # a hair (3e-6) above and below each score: past float32's rounding, within np.isclose's 1e-5
            choices = [0.9, 0.5, -1.0, 1.0 - 1e-7] + [s + d for s in pairs.values() for d in (3e-6, -3e-6)]
            threshold = data.draw(st.sampled_from(choices), label="threshold")
            want = sorted(((i, j, s) for (i, j), s in pairs.items() if s >= threshold), key=lambda p: (-p[2], p[0], p[1]))
            shown = f"near_duplicates({texts}, threshold={threshold!r})"
            got = api.call(near, list(texts), threshold)
            expect(isinstance(got, list), f"{shown} returned {brief(got)}; a list of (i, j, score)")
            got_pairs = [(p[0], p[1]) for p in got if isinstance(p, (tuple, list)) and len(p) == 3]
            expect(len(got_pairs) == len(got), f"{shown} returned {brief(got)}; each item is (i, j, score)")
            twice = [p for p in got_pairs if got_pairs.count(p) > 1]
            expect(not twice, f"{shown} returned the pair {twice[0] if twice else ''} twice; each pair once")
            missing = [(i, j) for i, j, _ in want if (i, j) not in got_pairs]
            extra = [p for p in got_pairs if p not in {(i, j) for i, j, _ in want}]
            if extra:
                i, j = extra[0]
                score = pairs.get((i, j))
                fail(
                    f"{shown} returned the pair {extra[0]}"
                    + (f", whose cosine {score!r} is below the threshold: at least the threshold means score >= threshold, exactly (not np.isclose)" if score is not None else ": each pair once, i < j, never a text with itself")
                )
            if missing:
                i, j = missing[0]
                fail(f"{shown} left out the pair {(i, j)} (cosine {pairs[(i, j)]!r}, at least the threshold): every pair i < j, equal texts too")
            same = lambda a, b: all_axes(texts[a[0]], texts[a[1]], texts[b[0]], texts[b[1]])  # noqa: E731 - cosines exactly 0 or 1
            broken = out_of_order(got_pairs, pairs.get, lambda a, b: a < b, same)
            expect(
                broken is None,
                f"{shown} returned the pairs in the order {got_pairs}; highest score first, equal scores by (i, j): {[(i, j) for i, j, _ in want]}",
            )
            for item in got:
                i, j = item[0], item[1]
                expect(close(item[2], pairs[(i, j)], 1e-5), f"{shown} scored ({i}, {j}) {item[2]!r}; its cosine is {pairs[(i, j)]!r} (these vectors are not of length 1)")

        run(check)


# -- classify ----------------------------------------------------------------------------------------


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


@pytest.mark.exercise("classify")
class TestClassifyGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_the_nearest_example_wins_on_generated_examples(self, target, synthetic_api):
        """One text under two labels, ties to the label listed first, vectors not of length 1"""
        classify = target.function("applications", "classify")
        server = Generated()
        api = synthetic_api(server)
        api.call(classify, "cat one", {"a": ["cat two"]})

        @budget(40)
        @given(texts_st, examples_st())
        def check(text, examples):
            q = server.vector(text)
            scored = [(cosine_exact(q, server.vector(e)), label, e) for label, texts in examples.items() for e in texts]
            best = max(s for s, _, _ in scored)
            near = [(label, e) for s, label, e in scored if s >= best - 1e-9]
            best_label = near[0][0]  # the first listed of the best
            allowed = {best_label} if exactly_tied(*(e for _, e in near)) else {label for label, _ in near}
            shown = f"classify({text!r}, {examples})"
            got = api.call(classify, text, {k: list(v) for k, v in examples.items()})
            expect(
                got in allowed,
                f"{shown} returned {brief(got)}; the single nearest example by cosine (not by dot product: these vectors are "
                f"not of length 1) scores {best:.6f} and is labelled {best_label!r}; equal scores go to the label listed first",
            )

        run(check)


# -- VectorStore.search ------------------------------------------------------------------------------


@pytest.mark.exercise("vector_store")
class TestVectorStoreGenerated:
    @pytest.fixture
    def folder(self, target):
        return target.scratch_folder("store")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_search_ranks_by_cosine_on_generated_texts(self, target, folder, synthetic_api):
        """Stored vectors not of length 1: the cosine ranks them, not the dot product; k above n"""
        make = target.function("applications", "VectorStore", objects=True)
        server = Generated()
        api = synthetic_api(server)
        counter = iter(range(10_000))
        try:
            make(str(folder / "probe.db"), client=api.client, model=api.model)
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001 - judged below
            pass

        @budget(12)
        @given(st.lists(texts_st, min_size=1, max_size=8, unique=True), texts_st, st.integers(1, 10))
        def check(texts, query, k):
            path = folder / f"generated-{next(counter)}.db"
            store = make(str(path), client=api.client, model=api.model)
            expect(isinstance(store, RemoteObject), f"VectorStore(path) returned {brief(store)}; it should make a VectorStore")
            try:
                use(api, store.method("add"), list(texts), shown=f"store.add({texts})")
                got = use(api, store.method("search"), query, k, shown=f"store.search({query!r}, {k})")
            finally:
                try:
                    store.method("close")()
                except Exception:  # noqa: BLE001 - its close() is judged elsewhere
                    pass
            q = server.vector(query)
            scores = [cosine_exact(q, server.vector(t)) for t in texts]
            order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))[:k]
            want = [(scores[i], texts[i]) for i in order]
            shown = f"store.search({query!r}, k={k}) after store.add({texts})"
            expect(isinstance(got, list) and len(got) == len(want), f"{shown} returned {brief(got)}; expected {len(want)} (score, text) pairs")
            sentence = (
                f"{shown} gave {brief(got)}; expected {[(round(s, 6), t) for s, t in want]}. Rank by cosine — the stored vectors "
                "are not of length 1, so a dot product is not one — highest first, equal scores in the order added"
            )
            expect(all(isinstance(i, (tuple, list)) and len(i) == 2 and i[1] in texts for i in got), sentence)
            places = [texts.index(i[1]) for i in got]
            cut = scores[order[-1]]
            expect(all(scores[p] >= cut - 1e-9 for p in places) and len(set(places)) == len(places), sentence)
            expect(all(close(i[0], scores[p], 1e-5) for i, p in zip(got, places)), sentence)
            expect(out_of_order(places, lambda i: scores[i], lambda a, b: a < b, lambda a, b: exactly_tied(texts[a], texts[b])) is None, sentence)
            tied_at_cut = [i for i in range(len(texts)) if abs(scores[i] - cut) <= 1e-9]
            if exactly_tied(*(texts[i] for i in tied_at_cut)):  # rows tied with the k-th: the first added come along
                expect(all(i in places for i in order), sentence)

        run(check)
