"""A mistake in similarity.py: rank keyword overlap.

file: similarity.py
test: test_gives_every_doc_a_score_best_first
says: made no request through the `client`
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    words = set(query.lower().split())
    scored = [(float(len(words & set(d.lower().strip('.').split()))), d) for d in docs]
    return sorted(scored, key=lambda p: p[0], reverse=True)
