"""A mistake in embed.py: embed type error without position.

file: embed.py
test: test_a_non_string_raises_type_error
says: name the position of the wrong item
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be strings")
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
