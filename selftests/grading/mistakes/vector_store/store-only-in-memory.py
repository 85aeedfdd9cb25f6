"""A mistake in applications.py: store only in memory.

file: applications.py
test: test_a_reopened_store_in_a_new_process
says: nothing the store held survived
"""

# -- swapped into the solution file from here on (its own imports stand) --
class VectorStore:
    def __init__(self, path, *, client=None, model=None):
        self.client, self.model = client_and_model(client, model)
        self.texts, self.vectors = [], []

    def __len__(self):
        return len(self.texts)

    def add(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self.texts]
        if not new:
            return 0
        self.vectors += list(embed(new, client=self.client, model=self.model))
        self.texts += new
        return len(new)

    def search(self, query, k=5):
        if not self.texts:
            raise ValueError("empty")
        q = embed([query], client=self.client, model=self.model)[0]
        return [(s, self.texts[i]) for i, s in top_k(q, np.array(self.vectors), k)]

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
