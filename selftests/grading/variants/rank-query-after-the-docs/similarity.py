"""A correct similarity.py written otherwise: rank query after the docs."""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed(list(docs) + [query], client=client, model=model)
    pairs = [(cosine(vectors[-1], vectors[i]), doc) for i, doc in enumerate(docs)]
    pairs.sort(key=lambda pair: pair[0], reverse=True)
    return pairs
