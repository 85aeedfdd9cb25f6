"""A correct embed.py written otherwise: pure python math."""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise ValueError("nothing to embed")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"item {i} is not a string")
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=list(texts))
    rows = [None] * len(texts)
    for item in response.data:
        rows[item.index] = item.embedding
    return np.array(rows)
