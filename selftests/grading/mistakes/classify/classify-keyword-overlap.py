"""A mistake in applications.py: classify keyword overlap.

file: applications.py
test: test_the_nearest_example_wins
says: shares the most words
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or not all(examples.values()):
        raise ValueError("no examples")
    embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
    words = set(text.lower().replace(".", " ").replace("?", " ").split())
    overlap = {label: max(len(words & set(t.lower().replace(".", " ").replace("?", " ").split())) for t in ts)
               for label, ts in examples.items()}
    return max(overlap, key=overlap.get)
