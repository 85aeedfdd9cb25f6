"""A mistake in similarity.py: rank hard coded docs.

file: similarity.py
test: test_ranks_any_query_and_docs_it_is_given
says: the docs it is given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + DOCS, client=client, model=model)
    scored = [(cosine(vectors[0], v), d) for v, d in zip(vectors[1:], DOCS)]
    return sorted(scored, key=lambda p: p[0], reverse=True)
