"""A correct similarity.py written otherwise: rank with two requests."""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    doc_vecs = embed(docs, client=client, model=model)
    query_vec = embed(query, client=client, model=model)[0]
    ranked = sorted(
        ((cosine(query_vec, doc_vecs[i]), docs[i]) for i in range(len(docs))),
        key=lambda pair: -pair[0],
    )
    return ranked
