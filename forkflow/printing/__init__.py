"""Printing (issue 16): what ForkFlow sends to the kitchen's and the till's ESC/POS printers.

`chits` turns an order (as its event payload carries it) into the bytes of a kitchen chit, a
customer receipt or a test page; it is pure (no I/O, no database), so the bytes of a job depend
only on what the job names, and a retry or a reprint prints the same chit. The bytes are made by
python-escpos, never by hand.
"""
