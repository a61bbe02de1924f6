"""Tests of the Ray executors, Serve and re-scans (real Ray)."""
