"""A mistake in similarity.py: rank top three only.

file: similarity.py
test: test_gives_every_doc_a_score_best_first
says: give every doc its score
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client, model=model)
    scored = [(cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)]
    return sorted(scored, key=lambda p: p[0], reverse=True)[:3]
