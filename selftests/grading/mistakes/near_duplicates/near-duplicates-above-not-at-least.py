"""A mistake in applications.py: near duplicates above not at least.

file: applications.py
test: test_a_pair_exactly_at_the_threshold_counts
says: not > threshold
"""

# -- swapped into the solution file from here on (its own imports stand) --
def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    texts = list(texts)
    if len(texts) < 2:
        return []
    v = embed(texts, client=client, model=model)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    sim = unit @ unit.T
    rows, cols = np.triu_indices(len(texts), k=1)
    pairs = [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols) if sim[i, j] > threshold]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
