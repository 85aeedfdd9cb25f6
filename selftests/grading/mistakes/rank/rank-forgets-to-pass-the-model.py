"""A mistake in similarity.py: rank forgets to pass the model.

file: similarity.py
test: test_gives_every_doc_a_score_best_first
says: pass client=client, model=model on
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client)
    return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), key=lambda p: p[0], reverse=True)
