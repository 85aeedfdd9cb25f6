"""A mistake in applications.py: classify by dot product.

file: applications.py
test: test_the_nearest_example_wins_on_generated_examples
says: not by dot product
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or any(not list(v) for v in examples.values()):
        raise ValueError("every label needs an example")
    labels = [label for label, texts in examples.items() for _ in texts]
    texts = [t for ts in examples.values() for t in ts]
    vectors = embed([text] + texts, client=client, model=model)
    return labels[int(np.argmax(vectors[1:] @ vectors[0]))]
