"""A mistake in applications.py: near duplicates isclose threshold.

file: applications.py
test: test_agrees_with_the_reference_on_generated_texts
says: not np.isclose
"""

# -- swapped into the solution file from here on (its own imports stand) --
def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    texts = list(texts)
    if len(texts) < 2:
        return []
    v = embed(texts, client=client, model=model)
    unit = v / np.linalg.norm(v, axis=1)[:, None]
    scores = unit @ unit.T
    i, j = np.triu_indices(len(texts), k=1)
    s = scores[i, j]
    keep = (s >= threshold) | np.isclose(s, threshold)
    pairs = [(int(a), int(b), float(c)) for a, b, c in zip(i[keep], j[keep], s[keep])]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
