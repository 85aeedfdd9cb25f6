"""A mistake in embed.py: embed gathers by index.

file: embed.py
test: test_places_each_row_by_its_index_whatever_the_order
says: item.index
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("no texts")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"item {i} is not a string")
    client, model = client_and_model(client, model)
    data = client.embeddings.create(model=model, input=texts).data
    return np.array([data[item.index].embedding for item in data], dtype=float)
