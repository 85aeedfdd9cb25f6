"""One hint per exercise, kept apart from the code as Rustlings keeps its hints: the stubs raise
them ("not started"), `embedlab watch` shows them on `h`. Each names the concept, points at what
matters and asks a question rather than giving the answer."""

from __future__ import annotations

FILES = {
    "embed": "embed.py",
    "cosine": "similarity.py",
    "rank": "similarity.py",
    "confirm_intuition": "challenges.py",
    "self_similarity": "challenges.py",
    "batch_vs_loop": "challenges.py",
}

HINTS = {
    "embed": (
        "as in the section's embed.py, call client.embeddings.create(model=..., input=[...]) once for "
        "the whole list. Each item of response.data has .index and .embedding: if the items arrived "
        "shuffled, how would you still put texts[i]'s vector in row i? np.array(...) turns a list of "
        "rows into a matrix."
    ),
    "cosine": (
        "the section's formula is a @ b / (np.linalg.norm(a) * np.linalg.norm(b)). Does `@` work on "
        "plain lists, or do you need np.asarray first? What should happen when one vector's length is 0?"
    ),
    "rank": (
        "embed() the query and the docs (how few requests can you make?), score each doc with "
        "cosine(), then sort. Which way does sorted() order numbers by default, and which way do you want?"
    ),
    "confirm_intuition": (
        "you already wrote rank(). Which documents go in, and which query? Pass client and model along."
    ),
    "self_similarity": (
        "two calls to embed(), then cosine() of the two rows. Why is comparing one vector with itself "
        "not the same experiment?"
    ),
    "batch_vs_loop": (
        "here you need the whole response, not just vectors: call client.embeddings.create(...) "
        "yourself and read response.usage.prompt_tokens. Count the requests you actually make."
    ),
}


def hint(name: str) -> str:
    """What a stub says: which function is still to write, where, and its hint."""
    return f"{name}() in exercises/{FILES[name]} is not written yet. Hint: {HINTS[name]}"
