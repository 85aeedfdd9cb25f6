"""A mistake in embed.py: embed one request per text.

file: embed.py
test: test_one_request_for_the_whole_list
says: made 3 requests
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
    client, model = client_and_model(client, model)
    return np.array([client.embeddings.create(model=model, input=[t]).data[0].embedding for t in texts])
