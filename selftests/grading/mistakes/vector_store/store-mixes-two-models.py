"""A mistake in applications.py: store mixes two models.

file: applications.py
test: test_another_model_is_refused_naming_both
says: it should raise ValueError
"""

# -- swapped into the solution file from here on (its own imports stand) --
class VectorStore:
    def __init__(self, path, *, client=None, model=None):
        self.client, self.model = client_and_model(client, model)
        if not os.path.exists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)")

    def __len__(self):
        return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def add(self, texts):
        held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
        new = [t for t in dict.fromkeys(texts) if t not in held]
        if not new:
            return 0
        vectors = embed(new, client=self.client, model=self.model).astype("<f4")
        with self.db:
            self.db.executemany("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
        return len(new)

    def search(self, query, k=5):
        rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
        if not rows:
            raise ValueError("the store is empty")
        matrix = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows])
        q = embed([query], client=self.client, model=self.model)[0]
        return [(s, rows[i][0]) for i, s in top_k(q, matrix, k)]

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
