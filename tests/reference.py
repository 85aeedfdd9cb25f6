"""The grader's own answers, computed with numpy from the vectors the endpoint recorded.

Nothing here comes from the learner's code or from one model's numbers: every expected value is
derived, inside the test, from the recorded responses of whichever cassette set is replayed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from embedlab.testing import DOG, NO_RECORDING, NotStarted, a_or_an, brief, expect, fail
from tests.in_the_worker import seeded_rows

SCORE_TOLERANCE = 1e-4  # a query embedded alone or in a batch may differ in the 7th digit


def cosine_ref(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ranking_ref(query_vec, doc_vecs, docs) -> list[tuple[float, str]]:
    """(score, doc), best first, equal scores in input order (Python's sort is stable)."""
    scored = [(cosine_ref(query_vec, vec), doc) for vec, doc in zip(doc_vecs, docs)]
    return sorted(scored, key=lambda pair: pair[0], reverse=True)


def rank_references(api, query: str, docs: list[str]):
    """The query's and the docs' recorded vectors.

    Also asks for every request shape a correct rank() may send — the docs alone, the query alone,
    the query before or after the docs in one request — and each doc alone (a wrong shape, but
    then the test can say "5 requests" instead of "no recording").
    """
    doc_vecs = api.vectors(docs)
    query_vec = api.vectors([query])[0]
    api.vectors([query] + docs)
    api.vectors(docs + [query])
    for doc in docs:
        api.vectors([doc])
    return query_vec, doc_vecs


def expected_verdict(batch_tokens: int, loop_tokens: int, batch_requests: int, loop_requests: int) -> str:
    """Tokens decide the cost; with equal tokens, fewer requests is cheaper."""
    batch, loop = (batch_tokens, batch_requests), (loop_tokens, loop_requests)
    return "same" if batch == loop else ("batch" if batch < loop else "loop")


def raises(expected: type[BaseException], function, *args, shown: str, why: str) -> BaseException:
    """Call the learner's function and require `expected`; say plainly what happened instead."""
    try:
        result = function(*args)
    except NotImplementedError as err:
        raise NotStarted(str(err)) from None
    except expected as err:
        return err
    except Exception as err:  # noqa: BLE001 - any other exception is the learner's answer
        details = getattr(err, "details", None) or {}
        if isinstance(details.get("status_code"), int):  # the endpoint refused what it was sent
            refusal = str(details.get("api_message") or err).rstrip(".")
            fail(
                f"{shown} sent its input to the endpoint, which refused it ({details['status_code']}: {refusal}); "
                f"it should raise {expected.__name__} before any request ({why})"
            )
        if (
            NO_RECORDING in str(err)
            or "APIConnectionError" in details.get("types", [])
            or type(err).__name__ == "CannotOverwriteExistingCassetteException"
        ):
            fail(f"{shown} sent a request to the endpoint; it should raise {expected.__name__} first ({why})")
        first = (str(err).strip().splitlines() or [""])[0][:120]
        kind = getattr(err, "learner_type", "") or type(err).__name__
        fail(f"{shown} raised {kind}: {first}; it should raise {expected.__name__} ({why})")
    fail(f"{shown} returned {brief(result)}; it should raise {expected.__name__} ({why})")


def check_ranking(result, query: str, docs: list[str], expected: list[tuple[float, str]], shown: str) -> None:
    """The shape of rank()'s answer, its order and its scores, each failure in one sentence."""
    expect(isinstance(result, list), f"{shown} returned {a_or_an(type(result).__name__)}; return a list of (score, doc) tuples")
    if result and all(isinstance(item, str) for item in result):
        fail(f"{shown} returned the docs alone ({brief(result)}); return (score, doc) tuples: the score first, then the doc")
    expect(len(result) == len(docs), f"{shown} returned {len(result)} items for {len(docs)} docs: give every doc its score")
    for item in result:
        expect(
            isinstance(item, (tuple, list)) and len(item) == 2,
            f"{shown} returned the item {brief(item)}; each item should be a (score, doc) pair",
        )
        score, doc = item
        expect(
            not isinstance(score, str) or not isinstance(doc, (int, float)),
            f"{shown} returned ({brief(score)}, {doc!r}): put the score first, (score, doc), so pairs sort by score",
        )
        expect(
            isinstance(score, numbers.Real) and not isinstance(score, bool) and math.isfinite(float(score)),
            f"{shown} gave the score {brief(score)}; a score is a number (the cosine similarity)",
        )
        expect(doc in docs, f"{shown} returned the doc {doc!r}, which is not one of the docs it was given")
    expect(
        sorted(doc for _, doc in result) == sorted(docs),
        f"{shown} should return each doc exactly once; it returned {[doc for _, doc in result]}",
    )
    scores = [float(score) for score, _ in result]
    if any(a < b for a, b in zip(scores, scores[1:])):
        ascending = all(a <= b for a, b in zip(scores, scores[1:]))
        fail(
            f"{shown} is not sorted highest score first: {[round(s, 3) for s in scores]}"
            + (" — that is lowest first: sort with reverse=True" if ascending else "")
        )
    want = {doc: score for score, doc in expected}
    for score, doc in result:
        expect(
            abs(float(score) - want[doc]) <= SCORE_TOLERANCE,
            f"{shown} scored {doc!r} {float(score):.4f}, but the cosine similarity of its vector with the "
            f"query's is {want[doc]:.4f}: score each doc with cosine(query vector, doc vector)",
        )


CATS = ["The cat sat on the mat.", "A feline napped on the soft rug."]
SERVER = "We deployed the web server at noon."


def check_dog_between(ranked, shown: str) -> None:
    """The section's claim: the dog below both cats, above the server."""
    place = {doc: i for i, (_, doc) in enumerate(ranked)}
    scores = ", ".join(f"{doc!r} {float(score):.3f}" for score, doc in ranked)
    expect(
        all(place[cat] < place[DOG] for cat in CATS) and place[DOG] < place[SERVER],
        f"{shown}: the dog sentence should rank below both cat sentences and above the server sentence; got {scores}",
    )


def expect_defaults_used(api, shown: str) -> None:
    """After a call with no client or model: its requests went through the configured client with EMBED_MODEL."""
    expect(
        api.sent,
        f"{shown} with no client made no request through the configured client: "
        "`client, model = client_and_model(client, model)` picks it when client is None",
    )
    expect(
        all(s.inputs and s.inputs.model == api.model for s in api.sent),
        f"{shown} with no model did not send EMBED_MODEL ({api.model!r}): use it when model is None",
    )


def seeded_query(raw: np.ndarray, scales: np.ndarray, indices: list[int], seed: int) -> np.ndarray:
    """A float32 query near a few rows of a seeded matrix (tests/in_the_worker.py's parts): their
    unit vectors added up, plus noise. Made in the grading process and sent to the worker."""
    rng = np.random.default_rng(seed)
    picked = seeded_rows(raw, scales, indices).astype(np.float64)
    query = (picked / np.linalg.norm(picked, axis=1, keepdims=True)).sum(axis=0)
    query += rng.normal(scale=0.3, size=query.shape)
    return (query * 2.5).astype(np.float32)


def seeded_best_rows(query, raw: np.ndarray, scales: np.ndarray, count: int, block: int = 8192) -> list[tuple[int, float]]:
    """The `count` best rows of a seeded matrix by cosine with `query`, scored exactly (float64),
    best first, ties by index: worked out in the grading process, where the learner's code cannot
    reach numpy, from the matrix's parts, without building the whole matrix.

    A row's scale cancels out of its cosine, so float32 scores of the int8 rows, a block at a time,
    pick the candidates (four times `count`, so rounding cannot leave one out); each candidate is
    then scored again in float64 as the very float32 row the worker holds."""
    query = np.asarray(query, dtype=np.float64)
    query32 = query.astype(np.float32)
    scores = np.empty(len(raw), dtype=np.float32)
    for start in range(0, len(raw), block):
        part = raw[start : start + block].astype(np.float32)
        scores[start : start + block] = (part @ query32) / np.sqrt(np.einsum("ij,ij->i", part, part))
    wide = min(len(scores), 4 * count)
    candidates = np.argpartition(-scores, wide - 1)[:wide]
    rows = seeded_rows(raw, scales, candidates).astype(np.float64)
    exact = (rows @ query) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))
    order = np.lexsort((candidates, -exact))[:count]
    return [(int(candidates[i]), float(exact[i])) for i in order]
