"""A mistake in applications.py: near duplicates each pair twice.

file: applications.py
test: test_finds_the_planted_pairs_and_nothing_else
says: give each pair once
"""

# -- swapped into the solution file from here on (its own imports stand) --
def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    texts = list(texts)
    if len(texts) < 2:
        return []
    v = embed(texts, client=client, model=model)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    sim = unit @ unit.T
    pairs = [(i, j, float(sim[i, j])) for i in range(len(texts)) for j in range(len(texts)) if i != j and sim[i, j] >= threshold]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
