"""A mistake in challenges.py: batch vs loop counts words.

file: challenges.py
test: test_tokens_come_from_usage
says: usage.prompt_tokens
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    client.embeddings.create(model=model, input=list(texts))
    for text in texts:
        client.embeddings.create(model=model, input=[text])
    words = sum(len(t.split()) for t in texts)
    return {"batch_requests": 1, "loop_requests": len(texts), "batch_tokens": words, "loop_tokens": words,
            "cheaper": "batch" if len(texts) > 1 else "same"}
