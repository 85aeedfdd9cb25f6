"""A mistake in challenges.py: batch vs loop made up numbers.

file: challenges.py
test: test_makes_one_batch_request_and_one_per_text
says: without sending a request
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    return {"batch_requests": 1, "loop_requests": 10, "batch_tokens": 100, "loop_tokens": 100, "cheaper": "batch"}
