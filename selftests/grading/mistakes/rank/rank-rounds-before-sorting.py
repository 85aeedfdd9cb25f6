"""A mistake in similarity.py: rank rounds before sorting.

file: similarity.py
test: test_ranks_generated_docs_like_the_reference
says: its cosine with the query
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client, model=model)
    scored = [(round(cosine(vectors[0], v), 2), d) for v, d in zip(vectors[1:], docs)]
    return sorted(scored, key=lambda pair: -pair[0])
