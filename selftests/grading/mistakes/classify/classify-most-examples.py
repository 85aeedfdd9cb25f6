"""A mistake in applications.py: classify most examples.

file: applications.py
test: test_the_nearest_example_wins
says: the label with the most examples
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or not all(examples.values()):
        raise ValueError("no examples")
    embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
    return max(examples, key=lambda label: len(examples[label]))
