"""Benchmarks: run each as `.venv/bin/python -m bench.NAME` from the repository root; figures
and the exact commands are in docs/benchmarks.md."""
