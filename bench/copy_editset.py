"""Superseded by ``provreg eval --preset copy`` (robustness of the ``copy`` detector).

This script now only runs that preset on the default corpus (see bench/eval_preset.py and
docs/robustness.md)::

    nice -n 10 .venv/bin/python -m bench.copy_editset [--quick]
"""

from __future__ import annotations

import sys

from bench.eval_preset import main

if __name__ == "__main__":
    raise SystemExit(main("copy", sys.argv[1:]))
