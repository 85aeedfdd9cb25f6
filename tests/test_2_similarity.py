"""Exercise 2 — cosine() and rank() in exercises/similarity.py: compare vectors, then search by meaning."""

import json
import math

import httpx2
import numpy as np
import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import DOCS, QUERY, NotStarted, a_or_an, attempt, brief, expect, watch
from tests.generated import (  # noqa: F401
    FORMS,
    Generated,
    all_axes,
    assign,
    budget,
    cosine_exact,
    exactly_tied,
    examples_st,
    is_plain_float,
    out_of_order,
    run,
    shown_vector,
    texts_st,
    top_k_cases,
    top_k_expected,
    top_k_scores,
    vector_pairs,
    word,
)
from tests.reference import check_ranking, cosine_ref, expect_defaults_used, raises, rank_references, ranking_ref
from tests.synthetic import Synthetic

CAT_DOCS = {"The cat sat on the mat.", "A feline napped on the soft rug."}
OTHER_QUERY = "shipping software to production"
# The docs in another order, one of them twice: every doc gets its own (score, doc), repeats too.
OTHER_DOCS = [DOCS[3], DOCS[1], DOCS[0], DOCS[3], DOCS[2]]


def close(result, expected: float, tolerance: float = 1e-6) -> bool:
    try:
        return abs(float(result) - expected) <= tolerance
    except (TypeError, ValueError):
        return False


@pytest.mark.exercise("cosine")
class TestCosine:
    @pytest.fixture
    def cosine(self, target):
        return target.function("similarity", "cosine")

    @pytest.mark.points(2)
    def test_same_direction_scores_one_whatever_the_lengths(self, cosine):
        """Same direction scores 1.0, whatever the lengths"""
        for a, b in (([1, 0], [2, 0]), ([3, 4], [6, 8]), ([0.5, 0.5, 0.5], [2, 2, 2])):
            result = attempt(cosine, a, b)
            expect(
                close(result, 1.0),
                f"cosine({a}, {b}) returned {brief(result)}; vectors pointing the same way score 1.0 "
                "whatever their lengths — did you divide the dot product by both lengths?",
            )

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_matches_the_formula_on_known_angles(self, cosine):
        """Matches dot / (|a| |b|) on known angles"""
        for a, b in (([3, 4], [4, 3]), ([1, 2, 3], [4, 5, 6]), ([2, 0, 1], [1, 3, -2])):
            want = cosine_ref(a, b)
            result = attempt(cosine, a, b)
            expect(
                close(result, want),
                f"cosine({a}, {b}) returned {brief(result)}; expected {want:.6f} = a·b / (|a| × |b|). "
                "Check the dot product and that each length is a square root of a sum of squares",
            )

    @pytest.mark.points(1)
    def test_right_angle_is_zero_and_opposite_is_minus_one(self, cosine):
        """A right angle scores 0.0, opposite directions -1.0"""
        for a, b, want in (([1, 0], [0, 3], 0.0), ([1, 2], [-2, -4], -1.0), ([1, 1], [-1, 1], 0.0)):
            result = attempt(cosine, a, b)
            expect(
                close(result, want),
                f"cosine({a}, {b}) returned {brief(result)}; expected {want}. Cosine runs from -1 (opposite) "
                "through 0 (unrelated) to 1: keep the sign, no abs()",
            )

    @pytest.mark.points(1)
    def test_accepts_lists_and_arrays_and_returns_a_float(self, cosine):
        """Accepts lists and numpy arrays, returns a float, and leaves its arguments unchanged"""
        a, b = [3, 4], [4, 3]
        for shown, x, y in (
            ("two lists", a, b),
            ("two numpy arrays", np.array(a), np.array(b)),
            ("float32 arrays", np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)),
            ("a list and an array", a, np.array(b, dtype=float)),
            ("two float arrays", np.array(a, dtype=float), np.array(b, dtype=float)),
        ):
            x, y = (v.copy() if isinstance(v, np.ndarray) else list(v) for v in (x, y))
            before = [np.array(x, dtype=float), np.array(y, dtype=float)]
            result = attempt(cosine, watch(x), watch(y))
            for name, value, was in (("a", x, before[0]), ("b", y, before[1])):
                expect(
                    np.array_equal(np.asarray(value, dtype=float), was),
                    f"cosine() of {shown} changed its argument {name} from {brief(was.tolist())} to "
                    f"{brief(np.asarray(value, dtype=float).tolist())}: a /= … divides the caller's own array. "
                    "Compute new values instead (a / np.linalg.norm(a)) and leave the arguments as they were",
                )
            expect(
                isinstance(result, float) and not isinstance(result, np.ndarray),
                f"cosine() of {shown} returned {brief(result)} ({a_or_an(type(result).__name__)}); return a plain "
                "float: float(...) turns a numpy number into one",
            )
            expect(close(result, 0.96, 1e-6), f"cosine() of {shown} returned {brief(result)}; expected 0.96")

    @pytest.mark.points(2)
    def test_agrees_with_numpy_on_real_embeddings(self, cosine, api):
        """Agrees with numpy on real embeddings"""
        vectors = api.vectors(DOCS)
        for i, j in ((0, 2), (0, 1), (1, 3), (2, 2)):
            want = cosine_ref(vectors[i], vectors[j])
            for shown, a, b in (
                ("float64 arrays", vectors[i], vectors[j]),
                ("float32 arrays", vectors[i].astype(np.float32), vectors[j].astype(np.float32)),
                ("lists", vectors[i].tolist(), vectors[j].tolist()),
            ):
                result = attempt(cosine, a, b)
                expect(
                    close(result, want, 1e-5),
                    f"cosine() of the vectors of {DOCS[i]!r} and {DOCS[j]!r} ({shown}) returned "
                    f"{brief(result)}; numpy says {want:.6f}",
                )
                expect(-1.0 - 1e-6 <= float(result) <= 1.0 + 1e-6, f"cosine() returned {brief(result)}, outside [-1, 1]")

    @pytest.mark.points(1)
    def test_different_lengths_raise_value_error(self, cosine):
        """Vectors of different lengths raise ValueError"""
        raises(ValueError, cosine, [1, 2, 3], [1, 2], shown="cosine([1, 2, 3], [1, 2])",
               why="vectors of different lengths cannot be compared; zip() silently drops the extra number")

    @pytest.mark.points(1)
    def test_empty_vectors_raise_value_error(self, cosine):
        """Empty vectors raise ValueError"""
        raises(ValueError, cosine, [], [], shown="cosine([], [])", why="an empty vector has no direction")

    @pytest.mark.points(1)
    def test_a_zero_vector_raises_value_error(self, cosine):
        """A zero vector raises ValueError, not nan"""
        for a, b in (([0, 0], [1, 2]), ([1, 2], [0.0, 0.0])):
            raises(ValueError, cosine, a, b, shown=f"cosine({a}, {b})",
                   why="a zero vector has no direction: dividing by its length 0 gives nan")


@pytest.mark.exercise("rank")
class TestRank:
    @pytest.fixture
    def rank(self, target):
        return target.function("similarity", "rank")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_gives_every_doc_a_score_best_first(self, rank, api):
        """Gives every doc a (score, doc) pair, best first"""
        query_vec, doc_vecs = rank_references(api, QUERY, DOCS)
        result = api.call(rank, QUERY, DOCS)
        api.expect_explained([QUERY, *DOCS], f"rank({QUERY!r}, DOCS)")
        check_ranking(result, QUERY, DOCS, ranking_ref(query_vec, doc_vecs, DOCS), f"rank({QUERY!r}, DOCS)")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_finds_the_cat_sentences_by_meaning(self, rank, api):
        """Finds both cat sentences first for "a sleeping cat", with no shared word"""
        query_vec, doc_vecs = rank_references(api, QUERY, DOCS)
        expected = ranking_ref(query_vec, doc_vecs, DOCS)
        expect(
            {doc for _, doc in expected[:2]} == CAT_DOCS,
            f"The recorded model does not put the cat sentences first ({expected}): "
            "this cassette set cannot grade the section — tell your instructor",
        )
        result = api.call(rank, QUERY, DOCS)
        api.expect_explained([QUERY, *DOCS], f"rank({QUERY!r}, DOCS)")
        check_ranking(result, QUERY, DOCS, expected, f"rank({QUERY!r}, DOCS)")
        top = {doc for _, doc in result[:2]}
        expect(top == CAT_DOCS, f"rank({QUERY!r}, DOCS) put {sorted(top)} on top; the cat sentences belong there")

    @pytest.mark.points(1)
    def test_embeds_the_docs_in_one_request(self, rank, api):
        """Embeds the docs in one request (two at most, with the query)"""
        rank_references(api, QUERY, DOCS)
        api.call(rank, QUERY, DOCS)
        expect(api.sent, f"rank({QUERY!r}, DOCS) sent no request through the `client` it was given: pass it to embed()")
        expect(
            len(api.sent) <= 2,
            f"rank({QUERY!r}, DOCS) made {len(api.sent)} requests; embed all the docs in one request "
            "(the query may share it, or take one more)",
        )
        expect(
            any(set(DOCS) <= set(sent.texts) for sent in api.sent),
            f"rank({QUERY!r}, DOCS) never sent all the docs in one request; embed(docs) does that",
        )
        expect(any(QUERY in sent.texts for sent in api.sent), f"rank({QUERY!r}, DOCS) never embedded the query")

    @pytest.mark.points(1)
    def test_ranks_any_query_and_docs_it_is_given(self, rank, api):
        """Ranks whatever query and docs it is given, a repeated doc included, and leaves them as they were"""
        docs = OTHER_DOCS
        given = list(docs)
        shown = f"rank({OTHER_QUERY!r}, docs)"
        query_vec, doc_vecs = rank_references(api, OTHER_QUERY, docs)
        result = api.call(rank, OTHER_QUERY, watch(given), hint="rank() must embed the query and the docs it is given, in their order.")
        expect(given == docs, f"{shown} changed the list of docs it was given into {given}; leave the caller's list alone")
        api.expect_explained([OTHER_QUERY, *docs], shown)
        check_ranking(result, OTHER_QUERY, docs, ranking_ref(query_vec, doc_vecs, docs), shown)

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, rank, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(rank.using_defaults(client=api.client, model=api.model), QUERY, DOCS)
        expect_defaults_used(api, f"rank({QUERY!r}, DOCS)")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_equal_scores_keep_the_input_order(self, rank, synthetic_api):
        """Equal scores keep the docs' input order"""
        docs = ["b: second letter", "c: third letter", "a: first letter"]

        def all_alike(request: httpx2.Request) -> httpx2.Response:
            # Synthetic: every doc gets the same vector, so every score ties.
            body = json.loads(request.content)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vectors = [[1.0, 1.0, 0.0] if text == QUERY else [1.0, 0.0, 0.0] for text in texts]
            items = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
            return httpx2.Response(200, json={"object": "list", "data": items, "model": body["model"], "usage": usage})

        api = synthetic_api(all_alike)
        result = api.call(rank, QUERY, docs)
        expect(isinstance(result, list) and len(result) == 3, f"rank() returned {brief(result)}; expected 3 (score, doc) pairs")
        order = [pair[1] for pair in result]
        expect(
            order == docs,
            f"With all scores equal, rank() returned the docs as {order}; keep their input order {docs}. "
            "Sort on the score alone — sorted(pairs, key=lambda pair: pair[0], reverse=True) — "
            "since comparing whole (score, doc) tuples falls back to the text on a tie",
        )
        scores = [float(pair[0]) for pair in result]
        expect(all(abs(score - math.sqrt(0.5)) <= 1e-6 for score in scores), f"every score here is cos 45° ≈ 0.7071; rank() gave {scores}")


# -- generated inputs (tests/generated.py) ------------------------------------------------------


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
            expect(is_plain_float(got), f"{shown} returned {brief(got)}, {a_or_an(type(got).__name__)}; return a plain float: float(...)")
            # The section's own formula rounds a hair past 1 now and then (float32 by 1e-7): that is a cosine still.
            expect(-1.0 - 1e-6 <= got <= 1.0 + 1e-6, f"{shown} returned {got!r}, outside [-1, 1]: a cosine never is")
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
            q = server.array(query).astype(np.float64)
            scores = [cosine_exact(q, server.array(d)) for d in docs]
            order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
            want = [(scores[i], docs[i]) for i in order]
            got = api.call(rank, query, list(docs))
            expect(isinstance(got, list) and len(got) == len(docs), f"{shown} returned {brief(got)}; one (score, doc) per doc: {len(docs)}")
            expect(all(isinstance(item, (tuple, list)) and len(item) == 2 for item in got), f"{shown} returned {brief(got)}; each item is (score, doc)")
            expect(sorted(map(str, (d for _, d in got))) == sorted(docs), f"{shown} returned the docs {[d for _, d in got]}; every doc once, as given: {docs}")
            expected = [f"({s:.6f}, {d!r})" for s, d in want]
            odd = next((item[0] for item in got if not is_plain_float(item[0])), None)
            expect(odd is None, f"{shown} gave the score {brief(odd)}, {a_or_an(type(odd).__name__)}; each score is a plain float: float(...)")
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
