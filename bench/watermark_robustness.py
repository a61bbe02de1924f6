"""Superseded by ``provreg eval --preset watermark`` (robustness of the ``watermark`` detector).

This script now only runs that preset on the default corpus (see bench/eval_preset.py and
docs/robustness.md)::

    nice -n 10 .venv/bin/python -m bench.watermark_robustness [--quick]
"""

from __future__ import annotations

import sys

from bench.eval_preset import main

if __name__ == "__main__":
    raise SystemExit(main("watermark", sys.argv[1:]))
