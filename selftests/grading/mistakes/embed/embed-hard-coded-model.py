"""A mistake in embed.py: embed hard coded model.

file: embed.py
test: test_sends_the_model_it_is_given
says: use the `model` argument
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, _ = client_and_model(client, model)
    texts = [texts] if isinstance(texts, str) else list(texts)
    response = client.embeddings.create(model="text-embedding-3-small", input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
