"""A correct embed.py written otherwise: np dot and float32."""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts[{bad[0]}] is not a string")
    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=texts, encoding_format="float")
    out = np.zeros((len(texts), len(response.data[0].embedding)), dtype=np.float32)
    for item in response.data:
        out[item.index] = item.embedding
    return out
