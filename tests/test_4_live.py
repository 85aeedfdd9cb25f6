"""Live checks: the challenges against your own endpoint (EMBED_MODEL in .env, or --live local).

Skipped with a one-line reason when no endpoint is configured or it cannot embed. Reported, and
scored only with --score-live.
"""

import pytest

from embedlab.testing import DOCS, DOG, QUERY, TEN_SENTENCES, expect
from tests.reference import check_dog_between, rank_references, ranking_ref

pytestmark = [pytest.mark.live, pytest.mark.exercise("live checks", "challenges")]


@pytest.mark.points(1)
def test_self_similarity_is_about_one_on_your_endpoint(target, api):
    """Self-similarity is about 1.0 on your endpoint"""
    self_similarity = target.function("challenges", "self_similarity")
    result = api.call(self_similarity, QUERY)
    times = sum(sent.texts.count(QUERY) for sent in api.sent)
    expect(times >= 2, f"self_similarity() embedded the text {times} time(s) on your endpoint: embed it twice")
    expect(
        abs(float(result) - 1.0) <= 1e-3,
        f"self_similarity({QUERY!r}) returned {result!r} on your endpoint; the same text should give the same vector",
    )


@pytest.mark.points(1)
def test_the_dog_lands_between_the_cats_and_the_server_on_your_endpoint(target, api):
    """The dog lands between the cats and the server on your endpoint"""
    confirm_intuition = target.function("challenges", "confirm_intuition")
    docs = DOCS + [DOG]
    query_vec, doc_vecs = rank_references(api, QUERY, docs)
    check_dog_between(ranking_ref(query_vec, doc_vecs, docs), f"Your endpoint's model ({api.model})")
    check_dog_between(api.call(confirm_intuition), "confirm_intuition()")


@pytest.mark.points(1)
def test_batch_vs_loop_on_your_endpoint(target, api):
    """Batch vs loop on your endpoint: the costs its usage reports"""
    batch_vs_loop = target.function("challenges", "batch_vs_loop")
    result = api.call(batch_vs_loop, TEN_SENTENCES)
    batch = [s.prompt_tokens for s in api.sent if s.texts == TEN_SENTENCES]
    loop = [s.prompt_tokens for s in api.sent if len(s.texts) == 1]
    expect(len(batch) == 1 and len(loop) == 10, f"batch_vs_loop() made {len(api.sent)} requests; expected 1 + 10")
    expect(
        (result["batch_tokens"], result["loop_tokens"]) == (batch[0], sum(loop)),
        f"batch_vs_loop() reported {result['batch_tokens']} and {result['loop_tokens']} tokens; your endpoint's "
        f"usage said {batch[0]} and {sum(loop)}",
    )
