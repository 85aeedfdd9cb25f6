"""Exercise 3 — the section's three challenges.

Run it: python solutions/challenges.py
"""

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import client_and_model, run_script
from embedlab.section import DOCS, DOG, QUERY, TEN_SENTENCES  # noqa: F401 (TEN_SENTENCES: for you)

from .embed import embed
from .similarity import cosine, rank


def confirm_intuition(*, client=None, model=None):
    """Rank DOCS + [DOG] for QUERY. The dog should land below the cats, above the server."""
    return rank(QUERY, DOCS + [DOG], client=client, model=model)


def self_similarity(text, *, client=None, model=None):
    """Embed `text` twice, in two requests, and return the cosine of the two vectors (~1.0)."""
    first = embed([text], client=client, model=model)[0]
    second = embed([text], client=client, model=model)[0]
    return cosine(first, second)


def batch_vs_loop(texts, *, client=None, model=None):
    """Embed `texts` in one request, then one request each, and compare what each cost.

    You pay per token (`usage.prompt_tokens`). When both ways use the same tokens, fewer
    requests is cheaper: each request has its own overhead and counts against rate limits.
    """
    client, model = client_and_model(client, model)
    texts = list(texts)

    batch = client.embeddings.create(model=model, input=texts)
    loop = [client.embeddings.create(model=model, input=[text]) for text in texts]

    result = {
        "batch_requests": 1,
        "loop_requests": len(loop),
        "batch_tokens": batch.usage.prompt_tokens,
        "loop_tokens": sum(response.usage.prompt_tokens for response in loop),
    }
    batch_cost = (result["batch_tokens"], result["batch_requests"])
    loop_cost = (result["loop_tokens"], result["loop_requests"])
    if batch_cost == loop_cost:
        result["cheaper"] = "same"
    else:
        result["cheaper"] = "batch" if batch_cost < loop_cost else "loop"
    return result


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
