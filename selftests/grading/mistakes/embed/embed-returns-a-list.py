"""A mistake in embed.py: embed returns a list.

file: embed.py
test: test_returns_a_float_array
says: return a numpy array
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=list(texts) if not isinstance(texts, str) else [texts])
    return [item.embedding for item in response.data]
