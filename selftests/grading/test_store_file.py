"""The grading process reads the SQLite file a learner's VectorStore wrote (tests/store_file.py):
as data, and bounded. Each hostile file gives an error in one sentence, never a hang, a crash,
a read through a link, or code of the file's run."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests import store_file
from tests.store_file import store_contents


def honest(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE vectors (id INTEGER PRIMARY KEY, text TEXT, model TEXT, vector BLOB)")
    db.execute("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)", ("a note", "m", np.ones(4, "<f4").tobytes()))
    db.commit()
    db.close()


def test_an_honest_file_is_read_as_data(tmp_path):
    honest(tmp_path / "notes.db")
    found = store_contents(tmp_path / "notes.db")
    assert found["error"] is None
    assert found["tables"]["vectors"]["columns"] == ["id", "text", "model", "vector"]
    assert found["tables"]["vectors"]["rows"] == [[1, "a note", "m", np.ones(4, "<f4").tobytes()]]


def test_a_store_left_in_wal_mode_is_read_with_its_log(tmp_path):
    path = tmp_path / "notes.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE vectors (text TEXT)")
    db.execute("INSERT INTO vectors VALUES ('in the log')")
    db.commit()  # left open: the row is in notes.db-wal only
    try:
        assert (tmp_path / "notes.db-wal").stat().st_size > 0
        assert store_contents(path)["tables"]["vectors"]["rows"] == [["in the log"]]
    finally:
        db.close()


def test_nothing_in_the_file_runs_and_the_original_is_never_written(tmp_path):
    """Views and triggers are not read; a trigger that would write, and the file itself, are unchanged."""
    path = tmp_path / "notes.db"
    honest(path)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE log (what TEXT)")
    db.execute("CREATE VIEW everything AS SELECT * FROM vectors, vectors AS b, vectors AS c")
    db.execute("CREATE TRIGGER t AFTER INSERT ON vectors BEGIN INSERT INTO log VALUES ('ran'); END")
    db.commit()
    db.close()
    before = path.read_bytes()
    found = store_contents(path)
    assert found["error"] is None and set(found["tables"]) == {"vectors", "log"}
    assert found["tables"]["log"]["rows"] == []
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder", "missing", "too-big", "not-sqlite", "wal-symlink"])
def test_a_hostile_file_is_one_sentence(tmp_path, kind, monkeypatch):
    path = tmp_path / "notes.db"
    secret = tmp_path / "secret.db"
    honest(secret)
    if kind == "symlink":
        path.symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too-big":
        monkeypatch.setattr(store_file, "MAX_BYTES", 1024)
        honest(path)
        with open(path, "ab") as file:
            file.write(b"\0" * 4096)
    elif kind == "not-sqlite":
        path.write_bytes(b"\x80\x04 pickled, not a database" * 100)
    elif kind == "wal-symlink":
        honest(path)
        (tmp_path / "notes.db-wal").symlink_to("/dev/zero")
    found = store_contents(path)
    assert isinstance(found["error"], str) and found["error"] and "\n" not in found["error"], found
    assert found["tables"] == {}


def test_a_slow_file_is_stopped(tmp_path, monkeypatch):
    """Reading past the deadline (here one already past, the clock looked at every instruction)
    ends in its sentence, not a hang."""
    honest(tmp_path / "notes.db")
    monkeypatch.setattr(store_file, "SECONDS", -1.0)
    monkeypatch.setattr(store_file, "STEP", 1)
    found = store_contents(tmp_path / "notes.db")
    assert found["error"] and "took over" in found["error"], found
