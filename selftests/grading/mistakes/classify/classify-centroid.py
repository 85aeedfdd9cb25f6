"""A mistake in applications.py: classify centroid.

file: applications.py
test: test_the_nearest_example_wins
says: their centroid
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or not all(examples.values()):
        raise ValueError("no examples")
    v = embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    best, start = None, 1
    for label, ts in examples.items():
        centre = v[start:start + len(ts)].mean(axis=0)
        start += len(ts)
        score = float(v[0] @ centre / np.linalg.norm(centre))
        if best is None or score > best[0]:
            best = (score, label)
    return best[1]
