"""A mistake in applications.py: near duplicates left in index order.

file: applications.py
test: test_finds_the_planted_pairs_and_nothing_else
says: is not sorted highest score first
"""

# -- swapped into the solution file from here on (its own imports stand) --
def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    if len(texts) < 2:
        return []
    v = embed(list(texts), client=client, model=model)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    s = v @ v.T
    i, j = np.nonzero(np.triu(s >= threshold, k=1))
    return [(int(a), int(b), float(s[a, b])) for a, b in zip(i, j)]
