"""A mistake in embed.py: embed tidies the texts.

file: embed.py
test: test_returns_a_float_array
says: exactly as it was given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is not a string")
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=[t.strip().lower() for t in texts])
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
