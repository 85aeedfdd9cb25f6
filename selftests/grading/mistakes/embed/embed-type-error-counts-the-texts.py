"""A mistake in embed.py: embed type error counts the texts.

file: embed.py
test: test_a_non_string_raises_type_error
says: its index
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"all {len(texts)} texts must be strings")
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
