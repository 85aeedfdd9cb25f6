"""A mistake in embed.py: embed sends an empty list.

file: embed.py
test: test_an_empty_list_raises_value_error
says: should raise ValueError
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    texts = [texts] if isinstance(texts, str) else list(texts)
    response = client.embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
