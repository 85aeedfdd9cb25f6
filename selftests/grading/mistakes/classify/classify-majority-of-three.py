"""A mistake in applications.py: classify majority of three.

file: applications.py
test: test_the_nearest_example_wins
says: a majority vote
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or not all(examples.values()):
        raise ValueError("no examples")
    labels = [label for label, ts in examples.items() for _ in ts]
    v = embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
    nearest = [labels[i] for i, _ in top_k(v[0], v[1:], k=3)]
    return max(dict.fromkeys(nearest), key=nearest.count)
