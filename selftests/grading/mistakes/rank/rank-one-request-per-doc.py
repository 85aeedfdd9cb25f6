"""A mistake in similarity.py: rank one request per doc.

file: similarity.py
test: TestRank::test_embeds_the_docs_in_one_request
says: made 5 requests
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    q = embed([query], client=client, model=model)[0]
    scored = [(cosine(q, embed([d], client=client, model=model)[0]), d) for d in docs]
    return sorted(scored, key=lambda p: p[0], reverse=True)
