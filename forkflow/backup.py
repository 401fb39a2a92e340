"""`forkflow backup`: a consistent copy of the live SQLite database, taken while it serves.

SQLite's online backup API copies the database page by page. The copy is read inside one read
transaction held from the first page to the last: in WAL mode that is a fixed snapshot of the
database which never blocks the writer (orders keep committing meanwhile) and never has to start
over because the writer moved on. The copy is written next to the target, checked with
`PRAGMA integrity_check`, and only then moved into place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

STEP_PAGES = 1024  # 4 MiB of 4 KiB pages per step
BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    """The backup was not made; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    pages: int
    bytes: int
    last_event_id: int
    orders: int
    seconds: float

    def describe(self) -> str:
        return (
            f"backed up {self.source} to {self.target}: {self.pages} pages ({self.bytes / 1_048_576:.1f} MiB), "
            f"{self.orders} orders, events up to id {self.last_event_id}, in {self.seconds:.2f} s; "
            "integrity_check: ok"
        )


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def backup_sqlite(source: Path, target: Path, force: bool = False, step_pages: int = STEP_PAGES) -> BackupResult:
    """Copy the database file `source` to `target` (refusing to overwrite it unless `force`)."""
    started = time.monotonic()
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.exists() and not force:
        raise BackupError(f"{target} exists; use --force to overwrite it")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot overwrite the database it copies")
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, *_sidecars(partial)):
        leftover.unlink(missing_ok=True)

    src = sqlite3.connect(source, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        src.execute("PRAGMA query_only=ON")
        # One read transaction over the whole copy: a single snapshot, however many steps it takes.
        src.execute("BEGIN")
        last_event_id, orders = src.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM events), (SELECT count(*) FROM orders)"
        ).fetchone()
        dst = sqlite3.connect(partial, isolation_level=None)
        try:
            src.backup(dst, pages=step_pages)
            src.execute("COMMIT")
            # A self-contained file: no -wal beside it to lose when it is copied elsewhere.
            dst.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    finally:
        src.close()
    if problems != ["ok"]:
        partial.unlink(missing_ok=True)
        raise BackupError("the copy failed its integrity check: " + "; ".join(problems[:5]))
    # An old target's -wal would be replayed onto the new file: remove it with the old file.
    for stale in _sidecars(target):
        stale.unlink(missing_ok=True)
    os.replace(partial, target)
    return BackupResult(
        source=source,
        target=target,
        pages=pages,
        bytes=target.stat().st_size,
        last_event_id=last_event_id,
        orders=orders,
        seconds=time.monotonic() - started,
    )
