"""A mistake in similarity.py: rank keeps one score per text.

file: similarity.py
test: test_ranks_any_query_and_docs_it_is_given
says: items for 5 docs
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client, model=model)
    scores = {d: cosine(vectors[0], v) for v, d in zip(vectors[1:], docs)}
    return sorted(((s, d) for d, s in scores.items()), key=lambda p: p[0], reverse=True)
