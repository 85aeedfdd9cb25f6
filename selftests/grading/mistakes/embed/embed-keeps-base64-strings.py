"""A mistake in embed.py: embed keeps base64 strings.

file: embed.py
test: test_returns_a_float_array
says: keep the strings
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    texts = [texts] if isinstance(texts, str) else list(texts)
    response = client.embeddings.create(model=model, input=texts, encoding_format="base64")
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
