"""A mistake in similarity.py: rank doc before score.

file: similarity.py
test: test_gives_every_doc_a_score_best_first
says: put the score first
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client, model=model)
    scored = [(d, cosine(vectors[0], v)) for v, d in zip(vectors[1:], docs)]
    return sorted(scored, key=lambda p: p[1], reverse=True)
