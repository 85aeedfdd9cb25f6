"""Exercise 4 — beyond the section, in exercises/applications.py: near_duplicates(), every pair above a threshold.

The texts these tests embed are in tests/applications.py, where you can read them: recorded from a
real server (cassettes/), each claim the tests make about them checked on the recorded vectors first.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import attempt, brief, expect, fail, watch
from tests import in_the_worker
from tests.applications import (  # the corpus and helpers the applications' tests share
    CLOSE,
    DUPLICATES_HINT,
    DUPLICATES_SLOWER,
    LOW,
    MARGIN,
    NOTES,
    PLANTED,
    cap_for,
    capped,
    cpu,
    exact_vectors,
    grader,
    is_int,
    not_highest_first,
    too_slow,
    unit_rows,
)
from tests.generated import (
    Generated,
    all_axes,
    budget,
    close,
    cosine_exact,
    out_of_order,
    run,
    texts_st,
)
from tests.reference import expect_defaults_used
from tests.synthetic import Synthetic

# -- near_duplicates -------------------------------------------------------------------------------


def pairs_ref(vectors, threshold: float) -> list[tuple[int, int, float]]:
    unit = unit_rows(vectors)
    found = [(i, j, float(unit[i] @ unit[j])) for i, j in itertools.combinations(range(len(unit)), 2)]
    return sorted((p for p in found if p[2] >= threshold), key=lambda p: (-p[2], p[0], p[1]))


def check_pairs(result, expected: list[tuple[int, int, float]], texts: list, shown: str, tolerance: float = 1e-4, order: bool = False) -> None:
    expect(isinstance(result, list), f"{shown} returned {brief(result)}; return a list of (i, j, score) tuples")
    for item in result:
        expect(isinstance(item, (tuple, list)) and len(item) == 3, f"{shown} returned the item {brief(item)}; each is an (i, j, score) tuple")
        i, j, score = item
        expect(is_int(i) and is_int(j), f"{shown} returned ({brief(i)}, {brief(j)}, …); i and j are plain ints (int(...))")
        expect(isinstance(score, float), f"{shown} gave the score {brief(score)}; a score is a float")
        if i == j:
            fail(f"{shown} paired text {i} with itself; a text is never its own near-duplicate: only pairs i < j")
    got = [(item[0], item[1]) for item in result]
    if any((j, i) in got for i, j in got if i < j):
        i, j = next((i, j) for i, j in got if i < j and (j, i) in got)
        fail(f"{shown} gave the pair ({i}, {j}) twice, also as ({j}, {i}): give each pair once, with i < j")
    backwards = [(i, j) for i, j in got if i > j]
    expect(not backwards, f"{shown} gave the pair {backwards[0]}; write each pair with the smaller index first, i < j" if backwards else "")
    want = {(i, j): s for i, j, s in expected}
    extra = [p for p in got if p not in want]
    if extra:
        i, j = extra[0]
        fail(f"{shown} returned the pair ({i}, {j}), which scores {pair_score(texts, i, j)} — not at least the threshold")
    missing = [p for p in want if p not in got]
    expect(not missing, f"{shown} missed the pair {missing[0]} ({brief(texts[missing[0][0]])} and {brief(texts[missing[0][1]])}), which scores {want[missing[0]]:.4f}" if missing else "")
    for i, j, score in result:
        expect(abs(score - want[(i, j)]) <= tolerance, f"{shown} scored the pair ({i}, {j}) {score:.4f}; its cosine is {want[(i, j)]:.4f}")
    scores = [item[2] for item in result]
    unsorted = not_highest_first(shown, scores, slack=1e-9)
    if unsorted:
        fail(unsorted)
    if order:
        expect(
            got == [(i, j) for i, j, _ in expected],
            f"{shown} returned the pairs in the order {got}; equal scores go by (i, j): {[(i, j) for i, j, _ in expected]}",
        )


_scores_shown: dict = {}


def pair_score(texts, i, j) -> str:
    return _scores_shown.get((tuple(map(str, texts)), i, j), "less")


def note_scores(texts, vectors) -> None:
    unit = unit_rows(vectors)
    for i, j in itertools.combinations(range(len(unit)), 2):
        _scores_shown[(tuple(map(str, texts)), i, j)] = f"{float(unit[i] @ unit[j]):.4f}"


def check_corpus_pairs(vectors) -> None:
    unit = unit_rows(vectors)
    for i, j in itertools.combinations(range(len(NOTES)), 2):
        score = float(unit[i] @ unit[j])
        planted = (i, j) in PLANTED
        expect(
            (score >= LOW + MARGIN) if planted else (score <= LOW - MARGIN),
            f"The recorded model scores NOTES {i} and {j} {score:.3f}, against this test's claim: this cassette set "
            "cannot grade near_duplicates — tell your instructor",
        )


@pytest.mark.exercise("near_duplicates")
class TestNearDuplicates:
    @pytest.fixture
    def near_duplicates(self, target):
        return target.function("applications", "near_duplicates")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_finds_the_planted_pairs_and_nothing_else(self, near_duplicates, api):
        """Finds the planted paraphrases and the exact duplicate, each pair once, never a text with itself"""
        vectors = api.vectors(NOTES)
        check_corpus_pairs(vectors)
        note_scores(NOTES, vectors)
        given = list(NOTES)
        shown = f"near_duplicates(NOTES, threshold={LOW})"
        result = api.call(near_duplicates, watch(given), LOW, hint=DUPLICATES_HINT)
        api.expect_explained(NOTES, shown)
        check_pairs(result, pairs_ref(vectors, LOW), NOTES, shown)
        expect(given == NOTES, f"{shown} changed the list of texts it was given; leave it as it was")

    @pytest.mark.points(1)
    def test_the_default_threshold_is_0_9(self, near_duplicates, api):
        """With the default threshold, 0.9, only the closest pairs"""
        vectors = api.vectors(NOTES)
        note_scores(NOTES, vectors)
        expected = pairs_ref(vectors, 0.9)
        expect(
            sorted((i, j) for i, j, _ in expected) == CLOSE,
            "The recorded model does not put exactly the pairs "
            f"{CLOSE} above 0.9 ({expected}): this cassette set cannot grade near_duplicates — tell your instructor",
        )
        result = api.call(near_duplicates, NOTES, hint=DUPLICATES_HINT)
        check_pairs(result, expected, NOTES, "near_duplicates(NOTES)")

    @pytest.mark.points(1)
    def test_embeds_the_texts_in_one_request(self, near_duplicates, api):
        """Embeds all the texts in one request; fewer than two texts give []"""
        api.vectors(NOTES)
        for text in NOTES:  # a request per text is recorded, so it is counted rather than refused
            api.vectors([text])
        api.vectors(NOTES[:1])
        api.call(near_duplicates, NOTES, LOW, hint=DUPLICATES_HINT)
        expect(api.sent, "near_duplicates(NOTES) sent no request through the `client` it was given")
        expect(len(api.sent) == 1, f"near_duplicates(NOTES) made {len(api.sent)} requests; embed all the texts in one request")
        for texts in ([], NOTES[:1]):
            result = api.call(near_duplicates, texts, LOW)
            expect(result == [], f"near_duplicates({texts}) returned {brief(result)}; with fewer than two texts there is no pair: []")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_a_pair_exactly_at_the_threshold_counts(self, near_duplicates, synthetic_api):
        """A pair whose score is exactly the threshold counts (at least, not above); ties go by (i, j)"""
        texts = ["east", "north", "east again", "up", "north again", "east once more"]
        axes = {"east": 0, "north": 1, "up": 2}
        api = synthetic_api(exact_vectors(lambda text: axes[text.split()[0]]))
        result = api.call(near_duplicates, texts, 1.0)
        expected = [(0, 2, 1.0), (0, 5, 1.0), (1, 4, 1.0), (2, 5, 1.0)]
        shown = f"near_duplicates({texts}, threshold=1.0)"
        if isinstance(result, list) and result == []:
            fail(
                f"{shown} returned []; texts 0, 2 and 5 have the same vector, so their pairs score exactly 1.0, which "
                "is at least the threshold: keep scores >= threshold, not > threshold"
            )
        check_pairs(result, expected, texts, shown, tolerance=1e-6, order=True)

    @pytest.mark.lesson
    @pytest.mark.synthetic
    @pytest.mark.points(2)
    def test_one_matrix_product_not_a_double_loop(self, near_duplicates, target, synthetic_api):
        """200 texts: all pairs from one matrix product, not a double Python loop"""
        # A new set of 200 texts for every look: an answer remembered from an earlier call gains nothing.
        looks = [[f"note number {i}: {'lorem ipsum dolor sit amet'[i % 20:]} {n}" for i in range(200)] for n in range(3)]
        texts = looks[0]
        server = Synthetic()
        api = synthetic_api(server)
        own = synthetic_api(server)  # the reference's own client: its requests stay out of api.sent
        reference = grader(target, "near_duplicates_reference")
        vectors = own.vectors(texts)
        expected = in_the_worker.pairs_above(vectors, 0.5)  # worked out here, not in the worker
        # Ten times: in the worker the same work also reads the answer into the openai client's objects.
        cap = cap_for(10.0, in_the_worker.pairs_above, vectors, 0.5)

        def reference_time(some) -> float:
            """Its CPU time in the worker (the request costs the worker none: it waits), capped."""
            return capped(lambda: cpu(target, reference, some, 0.5, client=own.client, model=own.model), cap)

        base = min(reference_time(some) for some in looks)
        shown = "near_duplicates(200 texts, threshold=0.5)"
        result, took = target.cpu_of(lambda: api.call(near_duplicates, texts, 0.5))
        for again in looks[1:]:  # again while it looks slow (CPU time, not a clock a neighbour moves)
            if not too_slow(took, base, DUPLICATES_SLOWER):
                break
            took = min(took, target.cpu_of(lambda t=again: api.call(near_duplicates, t, 0.5))[1])
        expect(
            not too_slow(took, base, DUPLICATES_SLOWER),
            f"{shown} took {took * 1000:.0f} ms of CPU, {took / base:.0f} times as much as one "
            f"matrix product ({base * 1000:.0f} ms): a double loop of cosine() calls scores "
            "19,900 pairs one by one. Make the rows unit length; unit @ unit.T scores them all at once",
        )
        check_pairs(result, expected, texts, shown, tolerance=1e-5)

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, near_duplicates, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(near_duplicates.using_defaults(client=api.client, model=api.model), NOTES[:3])
        expect_defaults_used(api, "near_duplicates(NOTES[:3])")


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
