"""A mistake in embed.py: embed splits a bare string.

file: embed.py
test: test_a_bare_string_is_one_text
says: characters
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=list(texts))
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
