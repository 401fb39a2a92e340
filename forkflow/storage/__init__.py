"""The storage seam: one `WritePath` (units.py) and a backend behind it for each database.

- units.py: write units, `Tx`, group commit, and the `WritePath` protocol the Store uses;
- sqlite.py: one writer thread with `BEGIN IMMEDIATE`, publishing events after each commit;
- postgres.py: the write lock, NOTIFY in the transaction, and the listener feeding the bus.
"""
