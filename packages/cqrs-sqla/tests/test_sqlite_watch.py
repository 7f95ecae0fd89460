"""`SqliteCommitWatch` next to the SQLite connections of its own process."""

from __future__ import annotations

import contextlib
import pathlib
import sqlite3
import subprocess
import sys

from cqrs_sqla.sqlite_watch import SqliteCommitWatch

# Another process opening the file and closing its connection: the last connection to
# close on a WAL file checkpoints it and deletes `-wal` and `-shm`, unless another
# process's connection still holds its shared lock on the file.
OPEN_AND_CLOSE = (
    "import sqlite3, sys; "
    "sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM sqlite_master').fetchone()"
)
COUNT = (
    "import sqlite3, sys; "
    "print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM t').fetchone()[0])"
)

# Another process writing without waiting for the lock (no busy timeout).
WRITE_AT_ONCE = (
    "import sqlite3, sys; "
    "sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)"
    ".execute('BEGIN IMMEDIATE')"
)


def test_looking_keeps_the_locks_of_the_processs_connections(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE t (x)")
        watch = SqliteCommitWatch(str(path))
        for _ in range(3):
            watch.signature()  # closing a descriptor of the file dropped SQLite's locks

        subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(path)], check=True)
        assert (tmp_path / "app.db-wal").exists()
        connection.execute("INSERT INTO t VALUES (1)")
        counted = subprocess.run(
            [sys.executable, "-c", COUNT, str(path)], check=True, capture_output=True, text=True
        )
        # Written to the file every process reads, not to a deleted `-wal`.
        assert counted.stdout.strip() == "1"


def test_a_watch_follows_a_file_deleted_and_created_again(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "app.db"
    watch = SqliteCommitWatch(str(path))
    assert watch.signature() == b""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("CREATE TABLE t (x)")
    first = watch.signature()
    assert first
    path.unlink()
    assert watch.signature() == b""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
    assert watch.signature() not in (b"", first)


def test_looking_keeps_a_write_lock_of_the_processs_transaction(tmp_path: pathlib.Path) -> None:
    # The rollback journal, SQLite's default: a transaction's lock belongs to the process,
    # and a look that closed its descriptor of the file let another process write into
    # the middle of that transaction.
    path = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("CREATE TABLE t (x)")
        watch = SqliteCommitWatch(str(path))
        connection.execute("BEGIN IMMEDIATE")
        watch.signature()

        writer = subprocess.run(
            [sys.executable, "-c", WRITE_AT_ONCE, str(path)], capture_output=True, text=True
        )
        assert writer.returncode != 0
        assert "database is locked" in writer.stderr
        connection.execute("COMMIT")
