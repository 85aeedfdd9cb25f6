"""A mistake in embed.py: embed stringifies items.

file: embed.py
test: test_a_non_string_raises_type_error
says: should raise TypeError
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    if not texts:
        raise ValueError("empty")
    client, model = client_and_model(client, model)
    texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
    response = client.embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
