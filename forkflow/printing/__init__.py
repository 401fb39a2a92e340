"""Printing (issue 16): what ForkFlow sends to the kitchen's and the till's ESC/POS printers.

`chits` turns an order (as its event payload carries it) into the bytes of a kitchen chit, a
customer receipt or a test page; it is pure (no I/O, no database), so the bytes of a job depend
only on what the job names, and a retry or a reprint prints the same chit. The bytes are made by
python-escpos, never by hand.

`jobs` queues print jobs in the writes that need them, `worker` sends them (`render` makes their
bytes with `chits`, `transport` puts them on the wire), and services/printers.py owns the printers'
set-up.

**The exactly-once invariant** (stated here once; the modules refer to it):

1. A print job is a row of `print_jobs`, written in the same transaction as the change that needs
   it (jobs.py), under the UNIQUE key (kind, event_id, station, printer_id, copy): the same send
   queued twice (a retried write, two callers) is one row. A reprint is a new row, copy n+1,
   printed "REPRINT": never an accidental second copy.
2. A job is sent by one worker at a time: the worker claims it with a conditional UPDATE (queued,
   and its claim free or lapsed) in a write unit, which every process runs one at a time (SQLite's
   one writer, PostgreSQL's write lock, and `FOR UPDATE SKIP LOCKED` in the claim), together with
   every queued job of the same printer, so one printer gets one job at a time, in id order. The
   claim is a lease: the worker renews it while it prints, and sends no job once the lease may
   have lapsed (its end as the worker's own clock reckons it, never later than the one written).
3. A job is marked printed (`print.printed`) only after the printer answered its real-time status
   request sent after the job's last byte (transport.py): it took every byte before it.
4. A failed job stays queued and is retried with backoff; once its printer has failed for
   FORKFLOW_PRINTER_BACKUP_SECONDS its jobs go to its backup printer ("BACKUP FOR <name>"); with no
   backup they wait, and the printer shows as failing, live.

The one window where a chit can print twice: the process dies (or loses its database) after the
printer answered and before the "printed" write commits (for the chits a printer took while the
write before theirs ran: writes are pipelined with sends); the claim lapses and another worker (or
the restarted one) prints them again. A graceful shutdown finishes the send in flight and records it
before the process exits (bounded by the printer timeout), so only a crash opens that window.
"""
