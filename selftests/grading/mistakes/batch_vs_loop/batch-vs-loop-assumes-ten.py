"""A mistake in challenges.py: batch vs loop assumes ten.

file: challenges.py
test: test_works_for_any_list_of_texts
says: for these three texts
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    batch = client.embeddings.create(model=model, input=list(texts))
    loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
    return {"batch_requests": 1, "loop_requests": 10, "batch_tokens": batch.usage.prompt_tokens,
            "loop_tokens": sum(r.usage.prompt_tokens for r in loop),
            "cheaper": "batch" if len(texts) > 1 else "same"}
