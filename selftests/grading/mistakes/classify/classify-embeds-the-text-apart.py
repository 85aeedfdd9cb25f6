"""A mistake in applications.py: classify embeds the text apart.

file: applications.py
test: test_the_text_and_examples_in_one_request
says: in one request
"""

# -- swapped into the solution file from here on (its own imports stand) --
def classify(text, examples, *, client=None, model=None):
    if not examples or not all(examples.values()):
        raise ValueError("every label needs an example")
    labels = [label for label, texts in examples.items() for _ in texts]
    v = embed([t for texts in examples.values() for t in texts], client=client, model=model)
    q = embed([text], client=client, model=model)[0]
    return labels[int(np.argmax(v @ q / np.linalg.norm(v, axis=1) / np.linalg.norm(q)))]
