"""What the learner's vector store wrote to its SQLite file, read in the grading process.

Read here and not in the learner's worker, where its code could patch sqlite3 and show a file it
never wrote. The file is the learner's, so it is read as data and bounded: a regular file only
(never through a symlink), at most MAX_BYTES, copied first (with its write-ahead log, if any)
into a folder of the grader's own, opened there with the schema distrusted, read for at most
SECONDS; tables only (no view or trigger runs), at most `most` rows each, blobs and texts cut.
A file past any bound is an error in one sentence, never a hang or the grader's traceback.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
import time
from pathlib import Path

MAX_BYTES = 64 * 2**20  # a store of nine notes takes kilobytes
SECONDS = 5.0
CUT = 4096  # bytes of a blob, characters of a text, kept for the checks
STEP = 10_000  # SQLite instructions between two looks at the clock


def _copy(source: Path, into: Path) -> str | None:
    """Copy one regular file, not through a symlink, at most MAX_BYTES; why not, in one sentence."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "there is no such file"
    except OSError as err:
        return f"it could not be opened ({err.strerror or type(err).__name__})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "it is not a regular file"
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return f"it is over {MAX_BYTES // 2**20} MB"
    into.write_bytes(data)
    return None


def store_contents(path: Path, most: int = 200) -> dict:
    """Each table's columns and cells as data (text, numbers, blobs), at most `most` rows a table,
    texts and blobs cut at CUT; `error` says in one sentence why the file could not be read."""
    found: dict = {"tables": {}, "error": None}
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="embedlab-store-") as folder:
        copy = Path(folder) / "store.db"
        why = _copy(path, copy)
        wal = path.with_name(path.name + "-wal")
        if why is None and os.path.lexists(wal):
            why = _copy(wal, Path(folder) / "store.db-wal")
            why = why and f"its write-ahead log {wal.name}: {why}"
        if why:
            found["error"] = why
            return found
        deadline = time.monotonic() + SECONDS
        try:
            db = sqlite3.connect(copy, isolation_level=None)
            try:
                db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_BYTES)
                db.set_progress_handler(lambda: time.monotonic() > deadline, STEP)
                db.execute("PRAGMA trusted_schema = OFF")
                names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for name in names:
                    quoted = '"' + name.replace('"', '""') + '"'
                    cursor = db.execute(f"SELECT * FROM {quoted} LIMIT {int(most)}")
                    columns = [d[0] for d in cursor.description]
                    cells = [[v[:CUT] if isinstance(v, (bytes, str)) else v for v in values] for values in cursor]
                    found["tables"][name] = {"columns": columns, "rows": cells}
            finally:
                db.close()
        except sqlite3.Error as err:
            late = time.monotonic() > deadline
            found["error"] = f"reading it took over {SECONDS:.0f} s" if late else f"{type(err).__name__}: {err}"
    return found
