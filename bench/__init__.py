"""ForkFlow benchmarks: run with `python bench/run.py` from the repository root (see README.md)."""
