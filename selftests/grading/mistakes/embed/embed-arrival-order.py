"""A mistake in embed.py: embed arrival order.

file: embed.py
test: test_rows_follow_each_items_index
says: by its .index
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    texts = [texts] if isinstance(texts, str) else list(texts)
    response = client.embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in response.data])
