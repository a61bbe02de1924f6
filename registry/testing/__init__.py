"""Fixture builders shared by the tests and the benchmarks: hostile files, synthetic ledgers.

Outside ``tests/`` so ``bench/`` never imports the test suite.
"""
