"""The class's code-similarity report: `embedlab similarity` and the pages `embedlab grade` writes.

A class of our own, each learner's applications.py (the kit's stub with functions written in):
- `copy-source` and `copy-disguised`: the same code, renamed, reordered, re-commented, re-spaced
  and with other strings;
- `recipe-one` and `recipe-two`: the stub with top_k written from the hint's recipe, nothing else
  in common;
- `honest-one` and `honest-two`: two independent correct implementations that converge on the
  reference idioms (unit rows, a matrix product, argpartition, triu_indices);
- `half-source` and `half-copy`: the second copies half of the first (two of its three functions);
- two that have not started (the stubs).
The copies rank first and are marked; the others are not. Hostile files and names, the command
and the page in headless Chromium are checked too.
"""

from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli
from .submissions import swap
from .test_pages import _browser_missing, load, no_dialog_with_javascript_on, no_markup_from_outside, start_browser

pytest.importorskip("copydetect", reason="copydetect is not installed (pip install -e '.[similarity]')")

HOSTILE_NAME = "<script>alert('x') \"quoted\" ünïcødé"  # a folder name: no slash


def d(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


COPY_SOURCE = d('''
    def top_k(query_vector, vectors, k=5):
        # score every row in one go
        matrix = np.asarray(vectors, dtype=np.float64)
        query = np.asarray(query_vector, dtype=np.float64)
        if matrix.ndim != 2 or len(matrix) == 0 or matrix.shape[1] != len(query) or k < 1:
            raise ValueError("bad shapes or a bad k")
        lengths = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
        if not lengths.all():
            raise ValueError("zero vector")
        scores = matrix @ query / lengths
        k = min(k, len(scores))
        picked = np.partition(scores, n - k)[n - k]
        picked = picked[np.lexsort((picked, -scores[picked]))]
        return [(int(i), float(scores[i])) for i in picked]


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        if len(texts) < 2:
            return []
        vecs = embed(list(texts), client=client, model=model)
        vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        sims = vecs @ vecs.T
        found = []
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                if sims[i, j] >= threshold:
                    found.append((i, j, float(sims[i, j])))
        found.sort(key=lambda t: (-t[2], t[0], t[1]))
        return found


    def classify(text, examples, *, client=None, model=None):
        if not examples:
            raise ValueError("no examples at all")
        labels, samples = [], []
        for label, items in examples.items():
            if not items:
                raise ValueError(f"label {label} has no example")
            for item in items:
                labels.append(label)
                samples.append(item)
        vecs = embed([text] + samples, client=client, model=model)
        best, best_score = None, -2.0
        for label, vec in zip(labels, vecs[1:]):
            score = float(vecs[0] @ vec / (np.linalg.norm(vecs[0]) * np.linalg.norm(vec)))
            if score > best_score:
                best, best_score = label, score
        return best
''')

# The same, disguised: functions reordered, every name changed, other comments, strings, spacing.
COPY_DISGUISED = d('''
    def classify(sentence, labelled, *, client=None, model=None):
        """Nearest labelled example wins."""
        if not labelled:
            raise ValueError('give me some labelled examples')
        tags, pool = [], []
        for tag, members in labelled.items():
            if not members:
                raise ValueError(f'nothing under {tag}')
            for member in members:
                tags.append(tag)
                pool.append(member)
        emb = embed([sentence] + pool, client=client, model=model)
        winner, top = None, -2.0
        for tag, row in zip(tags, emb[1:]):
            sim = float(emb[0] @ row / (np.linalg.norm(emb[0]) * np.linalg.norm(row)))
            if sim > top:
                winner, top = tag, sim
        return winner


    def top_k(query_vector, vectors, k=5):
        # my own search, honest
        m = np.asarray(vectors, dtype=np.float64)
        q = np.asarray(query_vector, dtype=np.float64)
        if m.ndim != 2 or len(m) == 0 or m.shape[1] != len(q) or k < 1:
            raise ValueError('wrong input')
        norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
        if not norms.all():
            raise ValueError('cannot use a zero vector')
        sc = m @ q / norms
        k = min(k, len(sc))
        chosen = np.argpartition(-sc, k - 1)[:k]
        chosen = chosen[np.lexsort((chosen, -sc[chosen]))]
        return [(int(r), float(sc[r])) for r in chosen]


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        if len(texts) < 2:   # nothing to pair
            return []
        e = embed(list(texts), client=client, model=model)
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
        cos = e @ e.T
        out = []
        for a in range(len(texts)):
            for b in range(a + 1, len(texts)):
                if cos[a, b] >= threshold:
                    out.append((a, b, float(cos[a, b])))
        out.sort(key=lambda x: (-x[2], x[0], x[1]))
        return out
''')

# Only top_k, from the hint's recipe; the rest stays the stub.
RECIPE_ONE = d('''
    def top_k(query_vector, vectors, k=5):
        vectors = np.asarray(vectors, dtype=float)
        query = np.asarray(query_vector, dtype=float)
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] != query.shape[0]:
            raise ValueError("dimension mismatch or empty matrix")
        if k < 1:
            raise ValueError("k must be at least 1")
        norms = np.linalg.norm(vectors, axis=1)
        if np.linalg.norm(query) == 0 or np.any(norms == 0):
            raise ValueError("zero vector")
        scores = vectors @ query / (norms * np.linalg.norm(query))
        k = min(k, len(scores))
        best = np.partition(scores, n - k)[n - k]
        order = np.lexsort((best, -scores[best]))
        return [(int(best[i]), float(scores[best[i]])) for i in order]
''')

RECIPE_TWO = d('''
    def top_k(query_vector, vectors, k=5):
        m = np.array(vectors, dtype=np.float64)
        q = np.array(query_vector, dtype=np.float64)
        if k < 1 or len(m) == 0:
            raise ValueError("need k >= 1 and at least one row")
        if m.shape[1] != len(q):
            raise ValueError("the query and the rows differ in length")
        row_norms = np.linalg.norm(m, axis=1)
        q_norm = np.linalg.norm(q)
        if q_norm == 0 or (row_norms == 0).any():
            raise ValueError("cannot compare a zero vector")
        scores = (m @ q) / row_norms / q_norm
        n = min(k, len(m))
        top = np.argpartition(-scores, n - 1)[:n]
        return sorted(((int(i), float(scores[i])) for i in top), key=lambda p: (-p[1], p[0]))
''')

# Two honest, independent, correct implementations that meet on the reference idioms.
HONEST_ONE = d('''
    def _unit(matrix):
        lengths = np.linalg.norm(matrix, axis=1, keepdims=True)
        if (lengths == 0).any():
            raise ValueError("a zero vector has no direction")
        return matrix / lengths


    def top_k(query_vector, vectors, k=5):
        rows = np.asarray(vectors, dtype=np.float32)
        q = np.asarray(query_vector, dtype=np.float32)
        if k < 1 or rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != q.size:
            raise ValueError("vectors must be a non-empty (n, d) matrix matching the query, k >= 1")
        scores = _unit(rows) @ _unit(q[None, :])[0]
        k = min(k, scores.size)
        idx = np.partition(scores, n - k)[n - k]
        idx = idx[np.lexsort((idx, -scores[idx]))]
        return [(int(i), float(scores[i])) for i in idx]


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        texts = list(texts)
        if len(texts) < 2:
            return []
        unit = _unit(embed(texts, client=client, model=model))
        sims = unit @ unit.T
        i, j = np.triu_indices(len(texts), k=1)
        keep = sims[i, j] >= threshold
        pairs = [(int(a), int(b), float(s)) for a, b, s in zip(i[keep], j[keep], sims[i, j][keep])]
        return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))


    def classify(text, examples, *, client=None, model=None):
        if not examples or any(not v for v in examples.values()):
            raise ValueError("every label needs at least one example")
        owners = [label for label, items in examples.items() for _ in items]
        flat = [item for items in examples.values() for item in items]
        unit = _unit(embed([text] + flat, client=client, model=model))
        return owners[int(np.argmax(unit[1:] @ unit[0]))]
''')

HONEST_TWO = d('''
    def top_k(query_vector, vectors, k=5):
        if k < 1:
            raise ValueError(f"k is {k}, it must be 1 or more")
        data = np.array(vectors, dtype=np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError("give a non-empty matrix")
        query = np.array(query_vector, dtype=np.float64).ravel()
        if data.shape[1] != query.shape[0]:
            raise ValueError("dimension mismatch")
        qn = np.linalg.norm(query)
        rn = np.linalg.norm(data, axis=1)
        if qn == 0 or not np.all(rn):
            raise ValueError("zero vector")
        sims = (data @ query) / (rn * qn)
        count = min(k, len(sims))
        part = np.argpartition(-sims, count - 1)[:count]
        ranked = sorted(part.tolist(), key=lambda r: (-sims[r], r))
        return [(int(r), float(sims[r])) for r in ranked]


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        if len(texts) <= 1:
            return []
        vecs = embed(list(texts), client=client, model=model)
        vecs /= np.linalg.norm(vecs, axis=1)[:, None]
        cos = vecs @ vecs.T
        rows, cols = np.triu_indices(cos.shape[0], k=1)
        hits = np.flatnonzero(cos[rows, cols] >= threshold)
        result = [(int(rows[h]), int(cols[h]), float(cos[rows[h], cols[h]])) for h in hits]
        result.sort(key=lambda t: (-t[2], t[0], t[1]))
        return result


    def classify(text, examples, *, client=None, model=None):
        if not examples:
            raise ValueError("no labels given")
        names, sentences = [], []
        for name in examples:
            if len(examples[name]) == 0:
                raise ValueError(f"{name!r} has no examples")
            names += [name] * len(examples[name])
            sentences += list(examples[name])
        vecs = embed(sentences + [text], client=client, model=model)
        vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        best = max(range(len(names)), key=lambda n: (vecs[n] @ vecs[-1], -n))
        return names[best]
''')

HALF_SOURCE = d('''
    def top_k(query_vector, vectors, k=5):
        A = np.array(vectors, dtype="float64")
        x = np.array(query_vector, dtype="float64")
        if A.ndim != 2 or A.shape[0] < 1:
            raise ValueError("empty or not a matrix")
        if A.shape[1] != x.shape[0]:
            raise ValueError("sizes differ")
        if k < 1:
            raise ValueError("k too small")
        denominators = np.sqrt((A * A).sum(axis=1)) * np.sqrt((x * x).sum())
        if np.count_nonzero(denominators) != len(denominators):
            raise ValueError("zero")
        cosines = A.dot(x) / denominators
        limit = min(k, A.shape[0])
        candidates = np.argsort(-cosines, kind="stable")[:limit]
        answer = []
        for index in candidates:
            answer.append((int(index), float(cosines[index])))
        return answer


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        items = list(texts)
        if len(items) < 2:
            return []
        M = embed(items, client=client, model=model)
        M = M / np.sqrt((M * M).sum(axis=1, keepdims=True))
        G = M.dot(M.T)
        answer = []
        for first in range(len(items) - 1):
            for second in range(first + 1, len(items)):
                value = float(G[first, second])
                if value >= threshold:
                    answer.append((first, second, value))
        answer.sort(key=lambda triple: (-triple[2], triple[0], triple[1]))
        return answer


    def classify(text, examples, *, client=None, model=None):
        if len(examples) == 0:
            raise ValueError("examples are empty")
        pairs = []
        for key in examples:
            if len(examples[key]) == 0:
                raise ValueError("a label lacks examples")
            for sample in examples[key]:
                pairs.append((key, sample))
        M = embed([text] + [sample for _, sample in pairs], client=client, model=model)
        M = M / np.sqrt((M * M).sum(axis=1, keepdims=True))
        closeness = M[1:].dot(M[0])
        top = 0
        for position in range(1, len(pairs)):
            if closeness[position] > closeness[top]:
                top = position
        return pairs[top][0]
''')

# Copies half_source's top_k and near_duplicates (renamed); its classify is its own.
HALF_COPY = d('''
    def top_k(query_vector, vectors, k=5):
        B = np.array(vectors, dtype="float64")
        y = np.array(query_vector, dtype="float64")
        if B.ndim != 2 or B.shape[0] < 1:
            raise ValueError("not a matrix")
        if B.shape[1] != y.shape[0]:
            raise ValueError("mismatch")
        if k < 1:
            raise ValueError("k must be positive")
        denoms = np.sqrt((B * B).sum(axis=1)) * np.sqrt((y * y).sum())
        if np.count_nonzero(denoms) != len(denoms):
            raise ValueError("a zero vector")
        cos = B.dot(y) / denoms
        lim = min(k, B.shape[0])
        cands = np.argsort(-cos, kind="stable")[:lim]
        res = []
        for ix in cands:
            res.append((int(ix), float(cos[ix])))
        return res


    def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
        things = list(texts)
        if len(things) < 2:
            return []
        E = embed(things, client=client, model=model)
        E = E / np.sqrt((E * E).sum(axis=1, keepdims=True))
        S = E.dot(E.T)
        res = []
        for p in range(len(things) - 1):
            for q in range(p + 1, len(things)):
                v = float(S[p, q])
                if v >= threshold:
                    res.append((p, q, v))
        res.sort(key=lambda t: (-t[2], t[0], t[1]))
        return res


    def classify(text, examples, *, client=None, model=None):
        if not examples:
            raise ValueError("need examples")
        label_of_row = []
        corpus = [text]
        for lab, group in examples.items():
            if not group:
                raise ValueError("empty label " + str(lab))
            corpus.extend(group)
            label_of_row.extend([lab] * len(group))
        v = embed(corpus, client=client, model=model)
        v = v / np.linalg.norm(v, axis=1)[:, np.newaxis]
        return label_of_row[int(np.argmax(v[1:] @ v[0]))]
''')

CLASS = {
    "copy-source": COPY_SOURCE,
    "copy-disguised": COPY_DISGUISED,
    "recipe-one": RECIPE_ONE,
    "recipe-two": RECIPE_TWO,
    "honest-one": HONEST_ONE,
    "honest-two": HONEST_TWO,
    "half-source": HALF_SOURCE,
    "half-copy": HALF_COPY,
    "not-started-one": None,
    "not-started-two": None,
}
MARKED = {("copy-disguised", "copy-source"), ("half-copy", "half-source")}


def submission(folder: Path, applications: str | None) -> Path:
    """The kit's stubs, with applications.py's functions written in (None: left as the stubs)."""
    exercises = folder / "exercises"
    exercises.mkdir(parents=True)
    for stub in sorted((ROOT / "exercises").glob("*.py")):
        text = stub.read_text(encoding="utf-8")
        if stub.name == "applications.py" and applications is not None:
            text = swap(text, applications)
        (exercises / stub.name).write_text(text, encoding="utf-8")
    return folder


def make_class(folder: Path) -> Path:
    for name, code in CLASS.items():
        submission(folder / name, code)
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("similarity")
    folder = make_class(base / "class")
    done = run_cli("similarity", str(folder), "--out", str(base / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    return {"base": base, "out": base / "out", "rows": read_csv(base / "out" / "similarity.csv"), "said": done.stdout}


def marked(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(r["submission"], r["other"]) for r in rows if r["marked"] == "yes"}


# -- ranking and marking -------------------------------------------------------------------------


def test_the_copies_rank_first_and_are_the_only_pairs_marked(klass):
    rows = [r for r in klass["rows"] if r["other"]]
    assert marked(rows) == MARKED, rows[:6]
    mine = [r for r in rows if r["file"] == "applications.py"]
    assert {(r["submission"], r["other"]) for r in mine[:2]} == MARKED  # most similar first
    assert [float(r["score"]) for r in rows] == sorted((float(r["score"]) for r in rows), reverse=True)
    scores = {(r["submission"], r["other"]): float(r["score"]) for r in mine}
    first = scores[("copy-disguised", "copy-source")]
    assert first >= 0.8, first  # renamed, reordered, re-commented, other strings: still most of it
    assert scores[("half-copy", "half-source")] >= 0.5
    for honest in (("recipe-one", "recipe-two"), ("honest-one", "honest-two")):
        assert scores.get(honest, 0.0) < 0.3, (honest, scores.get(honest))
    assert not any(r["submission"].startswith("not-started") or r["other"].startswith("not-started") for r in rows)  # the stubs share nothing
    assert "2 pairs marked to look at" in klass["said"] and len(klass["said"].strip().splitlines()) == 2


def test_the_page_says_how_pairs_are_marked_with_the_classs_own_numbers(klass):
    """The median and MAD the page states are those of every pair's score (the CSV's, and zero for
    the pairs it leaves out), and the threshold is median + MADS x MAD, at least FLOOR."""
    import statistics

    from embedlab.instructor import similarity

    page = (klass["out"] / "similarity.html").read_text(encoding="utf-8")
    assert "never a verdict" in page and "median absolute deviation" in page and "copydetect" in page
    rows = [r for r in klass["rows"] if r["other"] and r["file"] == "applications.py"]
    stated = page.split('data-file="applications.py" data-compared="', 1)[1]
    compared = int(stated.split('"', 1)[0])
    pairs = int(stated.split('data-pairs="', 1)[1].split('"', 1)[0])
    assert compared == len(CLASS) and pairs == compared * (compared - 1) // 2
    scores = [float(r["score"]) for r in rows] + [0.0] * (pairs - len(rows))
    median = statistics.median(scores)
    mad = statistics.median(abs(s - median) for s in scores)
    assert f'data-median="{median:.3f}" data-mad="{mad:.3f}"' in stated.split(">", 1)[0].replace("  ", " ") or (
        abs(float(stated.split('data-median="', 1)[1].split('"', 1)[0]) - median) < 2e-3
        and abs(float(stated.split('data-mad="', 1)[1].split('"', 1)[0]) - mad) < 2e-3
    )
    threshold = float(stated.split('data-threshold="', 1)[1].split('"', 1)[0])
    assert abs(threshold - max(similarity.FLOOR, median + similarity.MADS * mad)) <= 5e-4 * (2 + similarity.MADS) + 1e-9  # each shown to 3 places
    assert all((float(r["score"]) > threshold - 1e-9) == (r["marked"] == "yes") for r in rows)


def test_renaming_reordering_recommenting_and_restringing_leave_the_fingerprints(tmp_path):
    from embedlab.instructor import similarity

    def share(one: str, two: str) -> float:
        a, b = similarity.fingerprint("x.py", one).hashes, similarity.fingerprint("x.py", two).hashes
        return len(a & b) / min(len(a), len(b))

    functions = COPY_SOURCE.split("\n\n\n")
    reordered = "\n\n\n".join(reversed(functions))
    assert share(COPY_SOURCE, reordered) >= 0.9
    restrung = COPY_SOURCE.replace('"bad shapes or a bad k"', "'the shapes do not fit'").replace('"zero vector"', '"no zero vectors, please"')
    recommented = "\n".join(line.split("  #")[0] + "  # mine!" if line.strip() else line for line in restrung.splitlines())
    renamed = recommented.replace("matrix", "grid").replace("scores", "sims").replace("picked", "sel").replace("labels", "tags")
    assert share(COPY_SOURCE, renamed.replace("    ", "  ")) >= 0.95  # other names, strings, comments, indentation


def test_what_everyone_was_given_is_subtracted(tmp_path):
    """A stub, the section's code and a hint's recipe leave no fingerprint of their own."""
    from embedlab import course
    from embedlab.instructor import similarity

    catalogue = course.load(ROOT / "course.toml")
    given = similarity.boilerplate(ROOT, catalogue)
    for file in catalogue.files:
        stub = (ROOT / "exercises" / file).read_text(encoding="utf-8")
        assert len(similarity.fingerprint(file, stub, given=given).hashes) == 0, file
    section = (ROOT / "embedlab" / "instructor" / "section_code.py.txt").read_text(encoding="utf-8")
    assert len(similarity.fingerprint("x.py", section, given=given).hashes) == 0
    for recipe in (
        "def f(rows, scores):\n    return rows[np.lexsort((rows, -scores[rows]))]\n",
        "def pick(s, kept):\n    kept = list(kept)\n    best = np.lexsort((kept, -s[kept]))\n    return best[:5]\n",
        "def create(path):\n    if not os.path.exists(path):\n        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)\n        os.close(fd)\n",
    ):  # the k-grams left are mostly the learner's own tokens around the recipe
        kept = similarity.fingerprint("x.py", recipe, given=given)
        mostly = similarity.mostly_recipe(kept.filtered_code, given.recipes)
        assert mostly.any() and not any(mostly[i] for w in kept.hash_idx.values() for i in w)
        assert "V.V((V,-V[V]))" in given.recipes and "V.V(V,V.V|V.V,0o600)" in given.recipes
    cosine = "def cosine(u, v):\n    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))\n"
    assert len(similarity.fingerprint("x.py", cosine, given=given).hashes) == 0


def test_shared_counts_are_every_pairs_intersection():
    """The incidence-matrix count equals the sets' intersections, chunk boundaries included."""
    import numpy as np

    from embedlab.instructor import similarity

    rng = np.random.default_rng(3)
    sets = [np.unique(rng.integers(-(2**62), 2**62, size=rng.integers(0, 40)).tolist() + rng.integers(0, 60, size=30).tolist()) for _ in range(25)]
    chunk, similarity.CHUNK = similarity.CHUNK, 7
    try:
        counted = similarity.shared_counts(sets)
    finally:
        similarity.CHUNK = chunk
    for i in range(len(sets)):
        for j in range(len(sets)):
            if i != j:
                assert counted[i, j] == len(set(sets[i].tolist()) & set(sets[j].tolist())), (i, j)


# -- hostile files and names ---------------------------------------------------------------------


def test_hostile_files_are_refused_in_one_sentence_and_the_rest_compared(tmp_path):
    folder = tmp_path / "class"
    for name in ("plain-one", "plain-two"):
        submission(folder / name, HALF_SOURCE)
    huge = submission(folder / "huge", None) / "exercises" / "applications.py"
    huge.write_text("x = 1\n" * 200_000, encoding="utf-8")  # 1.2 MB
    (submission(folder / "binary", None) / "exercises" / "applications.py").write_bytes(b"def f():\n    return 1\n\0\0\0")
    (submission(folder / "undecodable", None) / "exercises" / "applications.py").write_bytes(b"def f():\n    return '\xff\xfe'\n")
    link = submission(folder / "link", None) / "exercises"
    (link / "applications.py").unlink()
    (link / "applications.py").symlink_to(folder / "plain-one" / "exercises" / "applications.py")
    (link / "embed.py").unlink()
    (link / "embed.py").symlink_to("/etc/passwd")
    fifo = submission(folder / "fifo", None) / "exercises" / "applications.py"
    fifo.unlink()
    os.mkfifo(fifo)  # a naive read would wait for a writer for ever
    done = run_cli("similarity", str(folder), "--out", str(tmp_path / "out"), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = {(r["submission"], r["file"]): r["note"] for r in read_csv(tmp_path / "out" / "similarity.csv") if not r["other"]}
    expected = {
        ("huge", "applications.py"): "bytes, more than the 1,048,576",
        ("binary", "applications.py"): "NUL bytes",
        ("undecodable", "applications.py"): "not UTF-8",
        ("link", "applications.py"): "symlink, which is never followed",
        ("link", "embed.py"): "symlink, which is never followed",
        ("fifo", "applications.py"): "not a regular file",
    }
    assert set(refused) == set(expected), refused
    for key, words in expected.items():
        note = refused[key]
        assert note.startswith("not compared: ") and words in note and "\n" not in note, (key, note)
    rows = [r for r in read_csv(tmp_path / "out" / "similarity.csv") if r["other"]]
    assert ("plain-one", "plain-two") in marked(rows) or rows[0]["submission"] == "plain-one"  # the rest were compared
    page = (tmp_path / "out" / "similarity.html").read_text(encoding="utf-8")
    assert 'id="refused" data-count="6"' in page and "applications.py of fifo was not compared: it is not a regular file" in page
    assert "6 files refused" in done.stdout


def hostile_class(folder: Path) -> list[str]:
    """Two submissions with hostile names copy each other's file, which holds markup and bidi controls."""
    names = [HOSTILE_NAME, '"><img src=x onerror=alert(1)>', "plain"]
    code = HALF_SOURCE.replace('"empty or not a matrix"', '"</pre><script>alert(3)</script><img src=x onerror=alert(4)>"')
    code = code.replace("# nothing", "# \u202e evil")
    code += "\n\n# \u202etrojan\u2066 </pre></details><iframe src=x>\n"
    submission(folder / names[0], code)
    submission(folder / names[1], code.replace("answer", "out"))
    submission(folder / names[2], HONEST_ONE)
    return names


def test_hostile_names_and_code_show_as_text_in_a_browser(tmp_path):
    from selenium.webdriver.common.by import By

    why = _browser_missing()
    if why:
        pytest.skip(why)
    names = hostile_class(tmp_path / "class")
    done = run_cli("similarity", str(tmp_path / "class"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    page = tmp_path / "out" / "similarity.html"
    markup = page.read_text(encoding="utf-8")
    assert "<script" not in markup.lower() and "<iframe" not in markup.lower() and "<img" not in markup.lower()
    assert "http://" not in markup and "https://" not in markup and "\u202e" not in markup
    driver = start_browser()
    try:
        driver.get("data:text/html,")
        driver.blank_png = len(driver.get_screenshot_as_png())
        load(driver, page)
        no_markup_from_outside(driver)
        first = driver.find_element(By.CSS_SELECTOR, "tr.pair")
        assert {first.get_attribute("data-a"), first.get_attribute("data-b")} == set(names[:2])
        assert first.get_attribute("data-marked") == "yes"
        text = driver.find_element(By.TAG_NAME, "body").text
        assert names[0] in text and names[1] in text and "</pre><script>alert(3)</script>" in text and "U+202E" in text
        assert driver.find_elements(By.CSS_SELECTOR, "details.passages[open] mark")  # the shared passages, highlighted
    finally:
        driver.quit()
    no_dialog_with_javascript_on(page)


# -- the command and `embedlab grade` --------------------------------------------------------------


def test_the_command_refuses_what_is_not_a_class_in_one_line(tmp_path):
    for args, said in (((str(tmp_path / "nowhere"),), "is not a folder"), ((str(tmp_path),), "no submissions in")):
        done = run_cli("similarity", *args, "--out", str(tmp_path / "out"))
        assert done.returncode == 2 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out").exists()


def test_a_broken_similarity_step_says_so_in_one_line_and_leaves_nothing_stale(tmp_path, monkeypatch):
    from embedlab.instructor import similarity

    out = tmp_path / "grades.csv"
    for name in (similarity.HTML_NAME, similarity.CSV_NAME):
        (tmp_path / name).write_text("from an earlier class", encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("the tokenizer fell over\nin two lines")

    monkeypatch.setattr(similarity, "compare_class", broken)
    said = similarity.beside_gradebook(tmp_path, out, ROOT)
    assert said.startswith("similarity: not written") and "the gradebook is complete" in said and "\n" not in said
    assert not (tmp_path / similarity.HTML_NAME).exists() and not (tmp_path / similarity.CSV_NAME).exists()
    monkeypatch.setitem(__import__("sys").modules, "copydetect", None)  # not installed
    said = similarity.beside_gradebook(tmp_path, out, ROOT)
    assert "copydetect is not installed" in said and "\n" not in said


def test_grade_writes_the_similarity_report_and_the_class_report_links_to_it(tmp_path):
    from embedlab.instructor import pages

    folder = tmp_path / "class"
    submission(folder / "ada", COPY_SOURCE)
    submission(folder / "bea", COPY_DISGUISED)
    submission(folder / "cy", HONEST_ONE)
    graded = run_cli("grade", str(folder), "--out", str(tmp_path / "book" / "grades.csv"), "--jobs", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    book = tmp_path / "book"
    assert (book / "grades.csv").is_file() and (book / "similarity.html").is_file()
    rows = [r for r in read_csv(book / "similarity.csv") if r["other"]]
    assert marked(rows) == {("ada", "bea")}, rows
    assert "similarity: 3 submissions" in graded.stdout and "1 pair marked" in graded.stdout
    report = (book / "grades-report.html").read_text(encoding="utf-8")
    assert 'id="similarity-link" href="similarity.html"' in report
    highest = {name: report.split(f'<tr data-submission="{name}" data-highest="', 1)[1].split('"', 1)[0] for name in ("ada", "bea", "cy")}
    best = {r["submission"]: r["score"] for r in reversed(rows)} | {r["other"]: r["score"] for r in reversed(rows)}
    assert highest["ada"] == highest["bea"] == rows[0]["score"] and highest["cy"] == best.get("cy", ""), (highest, rows)
    assert pages.read_similarity(book / "similarity.csv", {"ada", "bea", "cy"})["ada"].marked
