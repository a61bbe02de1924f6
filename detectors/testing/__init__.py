"""Fixture builders shared by the tests and the benchmarks (and usable by third-party detectors).

Outside ``tests/`` so ``bench/`` never imports the test suite and a detector package can build
the same samples. Some builders need the ``[dev]`` extra (scikit-image, scikit-learn photos).
"""
