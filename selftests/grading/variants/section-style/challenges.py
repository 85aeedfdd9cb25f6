"""A correct challenges.py written otherwise: section style."""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    both = embed([text, text], client=client, model=model)
    return cosine(both[0], both[1])

def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    batch = client.embeddings.create(model=model, input=texts)
    loop_tokens = 0
    for text in texts:
        loop_tokens += client.embeddings.create(model=model, input=text).usage.total_tokens
    result = {"batch_requests": 1, "loop_requests": len(texts),
              "batch_tokens": batch.usage.total_tokens, "loop_tokens": loop_tokens}
    if result["batch_tokens"] < loop_tokens:
        result["cheaper"] = "batch"
    elif result["batch_tokens"] > loop_tokens:
        result["cheaper"] = "loop"
    else:
        result["cheaper"] = "batch" if len(texts) > 1 else "same"
    return result
