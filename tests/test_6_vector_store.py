"""Exercise 4 — beyond the section, in exercises/applications.py: VectorStore, the vectors stored once in SQLite.

The texts these tests embed are in tests/applications.py, where you can read them: recorded from a
real server (cassettes/), each claim the tests make about them checked on the recorded vectors first.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

import httpx2
import numpy as np
import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import NotStarted, RemoteObject, attempt, brief, expect, fail
from tests.applications import (  # the corpus and helpers the applications' tests share
    NOTES,
    STORE_FIRST,
    STORE_QUERY,
    STORE_SECOND,
    is_int,
    not_highest_first,
    use,
)
from tests.generated import (
    Generated,
    budget,
    close,
    cosine_exact,
    exactly_tied,
    out_of_order,
    run,
    texts_st,
)
from tests.reference import cosine_ref, expect_defaults_used, raises
from tests.store_file import store_contents
from tests.synthetic import Synthetic

# -- VectorStore -----------------------------------------------------------------------------------


def record_store(api) -> None:
    """What a correct store asks, and what common mistakes ask (so they hear why, not 'no recording')."""
    api.vectors(NOTES[:6])
    api.vectors(NOTES[6:9])
    api.vectors(STORE_SECOND)  # a store that embeds again the texts it holds
    api.vectors([STORE_QUERY])
    for text in NOTES[:9]:  # one request per text
        api.vectors([text])
    api.vectors(NOTES[:9])  # a store that kept nothing, reopened


def texts_in_the_file(path: Path, texts: list[str]) -> list[str]:
    """Which of `texts` the store's file holds (read here, with the kit's own sqlite3)."""
    if not path.is_file():
        return []
    cells = {c for table in store_contents(path)["tables"].values() for row in table["rows"] for c in row if isinstance(c, str)}
    return [t for t in texts if t in cells]


def reopened_sentence(added, sent: list, kept: list[str], held: list[str]) -> str:
    """Why a reopened store's add() of texts it held is wrong, from what was measured: which texts
    its file kept, which it sent again, what it returned."""
    shown = f"Reopened in a new process, store.add(NOTES[:{len(held)}])"
    again = [t for t in dict.fromkeys(sent) if t in held]
    if not kept:
        return (
            f"{shown} sent {len(again)} of its {len(held)} texts again and returned {brief(added)}: its file holds "
            "none of them, so nothing the store held survived. Write each text and its vector to the SQLite file, "
            "and commit()"
        )
    if len(kept) < len(held):
        lost = [t for t in held if t not in kept]
        return (
            f"{shown} sent {len(again)} of its texts again: its file kept only {len(kept)} of the {len(held)} texts "
            f"(not {brief(lost[0])}). Write every text and its vector to the file, and commit() after each add()"
        )
    if again:
        which = f"all {len(held)} texts" if len(again) == len(held) else f"{len(again)} of the {len(held)} texts (such as {brief(again[0])})"
        return (
            f"{shown} sent {which} it holds again, though its file kept all of them: ask the SQLite table which "
            "texts it holds, not a list kept in memory, and embed only the others"
        )
    return f"{shown} made no request for texts it holds, but returned {brief(added)}: it embedded nothing now, so return 0"


def stored_vectors(api) -> dict[str, np.ndarray]:
    first, second = api.vectors(NOTES[:6]), api.vectors(NOTES[6:9])
    return {**dict(zip(NOTES[:6], first)), **dict(zip(NOTES[6:9], second))}


class Store:
    """The learner's VectorStore, in the worker, and the one-sentence checks on what it does."""

    def __init__(self, api, target, path: Path, model: str | None = None) -> None:
        self.api = api
        self.path = path
        make = target.function("applications", "VectorStore", objects=True)
        if model is None:
            self.obj = api.call(make, str(path), hint="VectorStore(path) sends no request: it embeds in add() and search().")
        else:
            self.obj = attempt(make, str(path), client=api.client, model=model)
        expect(
            isinstance(self.obj, RemoteObject),
            f"VectorStore({str(path)!r}) returned {brief(self.obj)}; it should make a VectorStore object (a class)",
        )

    def call(self, name: str, *args, shown: str | None = None):
        shown = shown or f"store.{name}({', '.join(brief(a) for a in args)})"
        return use(self.api, self.obj.method(name), *args, shown=shown)

    def add(self, texts: list[str], embeds: list[str], shown: str) -> None:
        first = len(self.api.sent)
        added = self.call("add", list(texts), shown=shown)
        sent = self.api.sent[first:]
        new = list(dict.fromkeys(embeds))
        if not new:
            expect(
                not sent,
                f"{shown} made {len(sent)} request(s), but the store holds all these texts already: "
                "embed only the texts it does not hold (none here: no request at all)",
            )
        else:
            expect(sent, f"{shown} sent no request through the `client` the store was given: pass it on to embed()")
            held = [t for s in sent for t in s.texts if t not in new]
            if held:
                fail(
                    f"{shown} embedded {brief(held[0])} again, which the store already holds: ask the table which "
                    "texts it has, and embed only the new ones"
                )
            expect(
                len(sent) == 1,
                f"{shown} made {len(sent)} requests for {len(new)} new texts; embed all the new texts in one request",
            )
            expect(
                sent[0].texts == new,
                f"{shown} sent {brief(sent[0].texts)}; expected the new texts, once each, in the order given: {brief(new)}",
            )
        expect(
            is_int(added) and added == len(new),
            f"{shown} returned {brief(added)}; it embedded {len(new)} new text(s) now, so it should return {len(new)} (an int)",
        )

    def length(self, shown: str = "len(store)") -> int:
        value = self.call("__len__", shown=shown)
        expect(is_int(value), f"{shown} returned {brief(value)}; it should be a whole number (int)")
        return value

    def close(self) -> None:
        self.call("close", shown="store.close()")


def check_search(result, expected: list[tuple[float, str]], k: int, shown: str) -> None:
    expect(isinstance(result, list), f"{shown} returned {brief(result)}; return a list of (score, text) tuples")
    expect(len(result) == min(k, len(expected)), f"{shown} returned {len(result)} results; expected the {min(k, len(expected))} best")
    want = dict((text, score) for score, text in expected)
    cut = expected[min(k, len(expected)) - 1][0]
    for item in result:
        expect(isinstance(item, (tuple, list)) and len(item) == 2, f"{shown} returned the item {brief(item)}; each is a (score, text) pair")
        score, text = item
        if isinstance(score, str):
            fail(f"{shown} returned ({brief(score)}, {brief(text)}): put the score first, (score, text), as rank() does")
        expect(isinstance(score, (int, float)) and not isinstance(score, bool), f"{shown} gave the score {brief(score)}; a score is a float")
        expect(text in want, f"{shown} returned {brief(text)}, which is not one of the stored texts")
        expect(
            abs(float(score) - want[text]) <= 1e-4,
            f"{shown} scored {text!r} {float(score):.4f}, but the cosine of its stored vector with the query's is "
            f"{want[text]:.4f}",
        )
        expect(want[text] >= cut - 1e-4, f"{shown} returned {text!r}, which is not among the {k} most similar stored texts")
    scores = [float(score) for score, _ in result]
    unsorted = not_highest_first(shown, scores)
    if unsorted:
        fail(unsorted)


@pytest.mark.exercise("vector_store")
class TestVectorStore:
    @pytest.fixture
    def folder(self, target):
        return target.scratch_folder("store")

    def filled(self, api, target, folder: Path, *, strict: bool = False) -> Store:
        """A store holding NOTES[:9]. Strict (add()'s own check): through a repeat and texts it holds
        already, every request and answer checked. Otherwise in two batches of new texts, nothing
        checked: a mistake in add() costs add()'s points, not those of every check after it."""
        record_store(api)
        store = Store(api, target, folder / "notes.db")
        if strict:
            store.add(STORE_FIRST, NOTES[:6], "store.add(NOTES[:6] + [NOTES[0]])")
            store.add(STORE_SECOND, NOTES[6:9], "then store.add(NOTES[4:9])")
        else:
            store.call("add", list(NOTES[:6]), shown="store.add(NOTES[:6])")
            store.call("add", list(NOTES[6:9]), shown="then store.add(NOTES[6:9])")
        return store

    @pytest.mark.lesson
    @pytest.mark.points(3)
    def test_add_embeds_only_new_texts_once_in_one_request(self, api, target, folder):
        """add() embeds only the texts it does not hold, once each, in one request, and says how many"""
        store = self.filled(api, target, folder, strict=True)
        store.add(NOTES[2:9], [], "then store.add(NOTES[2:9])")
        expect(store.length() == 9, f"len(store) is {store.length()} after adding 9 different texts")
        store.close()

    @pytest.mark.points(2)
    def test_search_ranks_the_stored_texts_like_rank(self, api, target, folder):
        """search() embeds the query in one request and ranks the stored texts by cosine"""
        store = self.filled(api, target, folder)
        vectors = stored_vectors(api)
        query = api.vectors([STORE_QUERY])[0]
        expected = sorted(((cosine_ref(query, vectors[t]), t) for t in NOTES[:9]), key=lambda pair: -pair[0])
        first = len(api.sent)
        shown = f"store.search({STORE_QUERY!r}, k=3)"
        result = store.call("search", STORE_QUERY, 3, shown=shown)
        sent = api.sent[first:]
        expect(len(sent) <= 1, f"{shown} made {len(sent)} requests; embed the query in one request, and use the stored vectors")
        check_search(result, expected, 3, shown)
        shown = f"store.search({STORE_QUERY!r}) with the default k"
        check_search(store.call("search", STORE_QUERY, shown=shown), expected, 5, shown)  # search(query, k=5)
        store.close()

    @pytest.mark.lesson
    @pytest.mark.points(3)
    @pytest.mark.fresh_worker
    def test_a_reopened_store_in_a_new_process_embeds_nothing_it_holds(self, api, target, folder):
        """Reopened in a new process, the store embeds nothing it already holds — even if its process died"""
        store = self.filled(api, target, folder)  # noqa: F841 - kept open, never closed: its process is killed below
        mode = stat.S_IMODE(os.stat(folder / "notes.db").st_mode) if (folder / "notes.db").is_file() else None
        expect(
            mode is None or mode & 0o077 == 0,
            f"Right after its first add(), before close(), the store's file has mode {oct(mode or 0)}: other users could "
            "read it from then on. Create it owner-only before SQLite writes to it: os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)",
        )
        in_file = texts_in_the_file(folder / "notes.db", NOTES[:9])  # what add() committed, read here
        second = Store(api, target, folder / "notes.db")  # a second connection, while the first is open
        count = second.length("len(store) of a second VectorStore(path) opened while the first is open")
        if count != 9:
            shown = f"A second VectorStore on the same file, opened while the first was open, says len() is {count}; the first added 9"
            if not in_file:
                with contextlib.suppress(Exception, pytest.fail.Exception):  # failing anyway: does close() commit?
                    store.close()
                if texts_in_the_file(folder / "notes.db", NOTES[:9]):
                    fail(
                        f"{shown}, and its file holds none of them until close(): a process that dies before close() loses "
                        "everything it added. Commit in add() (with self.db: ...), not only in close()"
                    )
                path = folder / "notes.db"
                if not path.is_file() or not store_contents(path)["tables"]:
                    fail(
                        f"{shown}, and its file holds none of them, so nothing the store held survived: it keeps its texts in "
                        "memory only (the file at path holds no table). Keep each text and vector in an SQLite table in that file, "
                        "and commit in add()"
                    )
                fail(f"{shown}, and its file holds none of them, even after close(): nothing was ever committed. Call self.db.commit() in add() (or write inside with self.db: ...)")
            if len(in_file) < 9:
                fail(f"{shown}, and its file holds {len(in_file)} of them: commit every text add() embeds, in add()")
            fail(f"{shown}, but its file holds all 9: len() should count the rows of the table (SELECT COUNT(*)), not what one object added")
        second.close()
        kept = texts_in_the_file(folder / "notes.db", NOTES[:9])  # what survived, read before the new process runs
        target.fresh_worker()  # the first store's process is killed, never closed: only what add() committed survives
        again = Store(api, target, folder / "notes.db")
        first = len(api.sent)
        added = again.call("add", list(NOTES[:9]), shown="store.add(NOTES[:9]) after reopening the file")
        if added != 0 or api.sent[first:]:
            fail(reopened_sentence(added, [t for s in api.sent[first:] for t in s.texts], kept, NOTES[:9]))
        count = again.length("len(store) after reopening")
        expect(count == 9, f"Reopened in a new process, len(store) is {count}; the file holds 9 texts")
        vectors = stored_vectors(api)
        query = api.vectors([STORE_QUERY])[0]
        expected = sorted(((cosine_ref(query, vectors[t]), t) for t in NOTES[:9]), key=lambda pair: -pair[0])
        check_search(again.call("search", STORE_QUERY, 2, shown="store.search(...) after reopening"), expected, 2, "store.search(...) after reopening")
        again.close()

    @pytest.mark.points(1)
    def test_stores_text_model_and_float32_bytes_not_pickle(self, api, target, folder):
        """The file holds each text, the model, and the vector as float32 bytes (never pickle)"""
        store = self.filled(api, target, folder)
        store.close()
        found = store_contents(folder / "notes.db")  # read here: the learner's code cannot reach this sqlite3
        expect(not found["error"], f"The store's file could not be read as an SQLite database ({found['error']})")
        cells = [cell for table in found["tables"].values() for row in table["rows"] for cell in row]
        blobs = [c for c in cells if isinstance(c, bytes)]
        if any(b[:1] == b"\x80" and b[-1:] == b"." for b in blobs):
            fail(
                "The store's file holds pickled vectors: pickle runs code when it loads, so a store anyone could "
                "write becomes a program. Store vector.astype('<f4').tobytes() and read it with np.frombuffer"
            )
        texts = {c for c in cells if isinstance(c, str)}
        missing = [t for t in NOTES[:9] if t not in texts]
        expect(not missing, f"The store's file does not hold the text {missing[0]!r} itself: keep each text beside its vector" if missing else "")
        expect(api.model in texts, f"The store's file never names the model {api.model!r}: keep the model beside each vector")
        vectors = stored_vectors(api)
        floats = [np.frombuffer(b, dtype="<f4") for b in blobs if len(b) % 4 == 0]
        unmatched = [t for t, v in vectors.items() if not any(len(f) == len(v) and np.allclose(f, v, atol=1e-6) for f in floats)]
        expect(
            not unmatched,
            f"The store's file holds no float32 bytes of the vector of {unmatched[0]!r}: store each vector as "
            "vector.astype('<f4').tobytes()" if unmatched else "",
        )

    @pytest.mark.points(1)
    def test_the_file_it_creates_is_readable_by_its_owner_only(self, api, target, folder):
        """The file it creates can be read and written by its owner only (mode 0o600)"""
        store = self.filled(api, target, folder)
        store.close()
        expect((folder / "notes.db").is_file(), "VectorStore(path) wrote no file at path: a store lives in an SQLite file there")
        mode = stat.S_IMODE(os.stat(folder / "notes.db").st_mode)
        expect(
            mode & 0o077 == 0,
            f"The store's file has mode {oct(mode)}: other users of the machine can read the vectors (they leak "
            "what the texts say). Create it owner-only first: os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)",
        )

    @pytest.mark.points(1)
    def test_another_model_is_refused_naming_both(self, api, target, folder):
        """Opened with another model than the one it holds, it raises ValueError naming both"""
        store = self.filled(api, target, folder)
        store.close()
        other = "text-embedding-other-model"
        make = target.function("applications", "VectorStore", objects=True)
        shown = f"VectorStore(path, model={other!r}) on a file holding {api.model!r} vectors"
        err = raises(
            ValueError,
            lambda: make(str(folder / "notes.db"), client=api.client, model=other),
            shown=shown,
            why="vectors of two models cannot be compared with each other",
        )
        message = str(err)
        expect(
            api.model in message and other in message,
            f"{shown} raised ValueError({message!r}); name both models in it, {api.model!r} and {other!r}",
        )

    @pytest.mark.points(1)
    def test_searching_an_empty_store_raises_value_error(self, api, target, folder):
        """search() on an empty store raises ValueError"""
        store = Store(api, target, folder / "empty.db")
        method = store.obj.method("search")
        raises(ValueError, method, STORE_QUERY, 3, shown=f"store.search({STORE_QUERY!r}) on an empty store", why="there is nothing to rank")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_equal_scores_keep_the_order_texts_were_added(self, target, folder, synthetic_api):
        """Equal scores come in the order the texts were added; with works"""
        texts = ["b: second letter", "c: third letter", "a: first letter"]

        def all_alike(request: httpx2.Request) -> httpx2.Response:
            # Synthetic: every text gets the same vector, so every score ties.
            body = json.loads(request.content)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            items = [{"object": "embedding", "index": i, "embedding": [1.0, 0.0, 0.0]} for i in range(len(inputs))]
            usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
            return httpx2.Response(200, json={"object": "list", "data": items, "model": body["model"], "usage": usage})

        api = synthetic_api(all_alike)
        store = Store(api, target, folder / "ties.db")
        entered = store.call("__enter__", shown="with VectorStore(path) as store")
        expect(
            isinstance(entered, RemoteObject) and entered.number == store.obj.number,
            f"with VectorStore(path) as store gave {brief(entered)}; __enter__ should return the store itself",
        )
        store.call("add", texts, shown=f"store.add({texts})")
        result = store.call("search", "any query", 3, shown="store.search('any query', k=3)")
        order = [item[1] for item in result] if isinstance(result, list) and all(isinstance(i, (tuple, list)) and len(i) == 2 for i in result) else result
        expect(
            order == texts,
            f"With all scores equal, store.search() returned {brief(order)}; keep the order the texts were added: "
            f"{texts} (ORDER BY the row id, and a stable sort on the score alone)",
        )
        store.call("__exit__", None, None, None, shown="leaving the with block")
        try:
            still = store.obj.method("__len__")()
        except Exception:  # noqa: BLE001 - closed, as it should be: its connection refuses
            still = None
        expect(
            still is None,
            f"After leaving the with block, len(store) still answered {brief(still)}: __exit__ should close the store (self.close())",
        )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, target, folder, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        make = target.function("applications", "VectorStore", objects=True)
        store = attempt(make.using_defaults(client=api.client, model=api.model), str(folder / "defaults.db"))
        expect(isinstance(store, RemoteObject), f"VectorStore(path) returned {brief(store)}; it should make a VectorStore")
        use(api, store.method("add"), ["The cat sat on the mat."], shown="store.add(['The cat sat on the mat.'])")
        expect_defaults_used(api, "VectorStore(path) then store.add([...])")


# -- VectorStore.search ------------------------------------------------------------------------------


@pytest.mark.exercise("vector_store")
class TestVectorStoreGenerated:
    @pytest.fixture
    def folder(self, target):
        return target.scratch_folder("store")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_search_ranks_by_cosine_on_generated_texts(self, target, folder, synthetic_api):
        """Stored vectors not of length 1: the cosine ranks them, not the dot product; k above n"""
        make = target.function("applications", "VectorStore", objects=True)
        server = Generated()
        api = synthetic_api(server)
        counter = iter(range(10_000))
        try:
            make(str(folder / "probe.db"), client=api.client, model=api.model)
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001 - judged below
            pass

        @budget(12)
        @given(st.lists(texts_st, min_size=1, max_size=8, unique=True), texts_st, st.integers(1, 10))
        def check(texts, query, k):
            path = folder / f"generated-{next(counter)}.db"
            store = make(str(path), client=api.client, model=api.model)
            expect(isinstance(store, RemoteObject), f"VectorStore(path) returned {brief(store)}; it should make a VectorStore")
            try:
                before = len(api.sent)
                none = use(api, store.method("add"), [], shown="store.add([])")
                expect(
                    none == 0 and type(none) is int and len(api.sent) == before,
                    f"store.add([]) returned {brief(none)} after {len(api.sent) - before} request(s); nothing to embed: return 0, no request",
                )
                use(api, store.method("add"), list(texts), shown=f"store.add({texts})")
                got = use(api, store.method("search"), query, k, shown=f"store.search({query!r}, {k})")
            finally:
                try:
                    store.method("close")()
                except Exception:  # noqa: BLE001 - its close() is judged elsewhere
                    pass
            q = server.array(query)
            scores = [cosine_exact(q, server.array(t)) for t in texts]
            order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))[:k]
            want = [(scores[i], texts[i]) for i in order]
            shown = f"store.search({query!r}, k={k}) after store.add({texts})"
            expect(isinstance(got, list) and len(got) == len(want), f"{shown} returned {brief(got)}; expected {len(want)} (score, text) pairs")
            sentence = (
                f"{shown} gave {brief(got)}; expected {[(round(s, 6), t) for s, t in want]}. Rank by cosine — the stored vectors "
                "are not of length 1, so a dot product is not one — highest first, equal scores in the order added"
            )
            expect(all(isinstance(i, (tuple, list)) and len(i) == 2 and i[1] in texts for i in got), sentence)
            places = [texts.index(i[1]) for i in got]
            cut = scores[order[-1]]
            expect(all(scores[p] >= cut - 1e-9 for p in places) and len(set(places)) == len(places), sentence)
            expect(all(close(i[0], scores[p], 1e-5) for i, p in zip(got, places)), sentence)
            expect(out_of_order(places, lambda i: scores[i], lambda a, b: a < b, lambda a, b: exactly_tied(texts[a], texts[b])) is None, sentence)
            tied_at_cut = [i for i in range(len(texts)) if abs(scores[i] - cut) <= 1e-9]
            if exactly_tied(*(texts[i] for i in tied_at_cut)):  # rows tied with the k-th: the first added come along
                expect(all(i in places for i in order), sentence)

        run(check)
