"""A mistake in similarity.py: rank puts the query in the callers list.

file: similarity.py
test: test_ranks_any_query_and_docs_it_is_given
says: changed the list of docs
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    docs.insert(0, query)
    vectors = embed(docs, client=client, model=model)
    return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs[1:])), key=lambda p: p[0], reverse=True)
