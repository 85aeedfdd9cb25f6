"""A mistake in applications.py: store world readable.

file: applications.py
test: test_the_file_it_creates_is_readable_by_its_owner_only
says: other users of the machine can read
"""

# -- swapped into the solution file from here on (its own imports stand) --
class VectorStore:
    def __init__(self, path, *, client=None, model=None):
        self.client, self.model = client_and_model(client, model)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)")
        held = [m for (m,) in self.db.execute("SELECT DISTINCT model FROM vectors")]
        if any(m != self.model for m in held):
            raise ValueError(f"the store holds {held[0]!r} vectors, not {self.model!r}")

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
