"""Exercise 3 — the section's three challenges.

Run it: python exercises/challenges.py   Grade it: pytest tests/test_3_challenges.py

The section's sentences are ready for you (see embedlab/section.py):
    DOCS           the four documents of the tiny semantic search
    QUERY          "a sleeping cat"
    DOG            "a dog barked loudly"
    TEN_SENTENCES  ten short sentences for challenge 3
"""

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import client_and_model, run_script  # noqa: F401
from embedlab.course import hint
from embedlab.section import DOCS, DOG, QUERY, TEN_SENTENCES  # noqa: F401

from .embed import embed  # noqa: F401 (your answers to exercises 1 and 2)
from .similarity import cosine, rank  # noqa: F401


def confirm_intuition(*, client=None, model=None):
    """Challenge 1: rank DOCS + [DOG] for QUERY and return what rank() returns.

    Success: the dog sentence scores below both cat sentences and above the server sentence.
    """
    raise NotImplementedError(hint("confirm_intuition"))


def self_similarity(text, *, client=None, model=None):
    """Challenge 2: embed `text` twice and return the cosine of the two vectors (about 1.0).

    Embed it twice for real — two requests, or one request holding the text twice — so the
    answer says whether the endpoint gives the same vector for the same text.
    """
    raise NotImplementedError(hint("self_similarity"))


def batch_vs_loop(texts, *, client=None, model=None):
    """Challenge 3: embed `texts` in one request, then one request per text; compare the cost.

    Return a dict:
        "batch_requests": 1, "loop_requests": how many requests the loop made,
        "batch_tokens":   usage.prompt_tokens of the batch response,
        "loop_tokens":    the sum of usage.prompt_tokens over the loop's responses,
        "cheaper":        "batch", "loop" or "same" — your verdict.
    You pay per token; when both ways use the same tokens, fewer requests is cheaper (each
    request has its own overhead and counts against rate limits).
    """
    raise NotImplementedError(hint("batch_vs_loop"))


def main():
    print("1. Confirm the intuition:")
    for score, doc in confirm_intuition():
        print(f"   {score:.3f} {doc}")
    print(f"2. Self-similarity: {self_similarity(QUERY):.6f}")
    costs = batch_vs_loop(TEN_SENTENCES)
    print(
        f"3. Batch: {costs['batch_requests']} request, {costs['batch_tokens']} tokens; "
        f"loop: {costs['loop_requests']} requests, {costs['loop_tokens']} tokens; "
        f"cheaper: {costs['cheaper']}"
    )


if __name__ == "__main__":
    run_script(main)
