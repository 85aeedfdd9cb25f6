"""A mistake in embed.py: embed strips the callers list.

file: embed.py
test: test_rows_hold_the_endpoints_vectors
says: changed the list it was given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        raise ValueError("empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is not a string")
    texts[:] = [t.strip() + " " for t in texts]
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=[t.strip() for t in texts])
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
