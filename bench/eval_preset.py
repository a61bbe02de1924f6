"""Run one ``provreg eval`` preset on the default corpus (shared by the per-detector scripts).

The per-detector robustness scripts (watermark_robustness, copy_editset, c2pa_eval,
metadata_eval) are now presets of ``provreg eval``: one corpus, one attack suite, one set of
metrics (TPR at fixed FPR, bit accuracy, recall@1/µAP, bootstrap CIs) for every detector.

    nice -n 10 .venv/bin/python -m bench.eval_preset PRESET [--quick] [--corpus DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def main(preset: str, argv: Sequence[str] | None = None) -> int:
    """Build the default corpus if needed, then ``provreg eval run --preset PRESET``."""
    parser = argparse.ArgumentParser(description=f"provreg eval --preset {preset}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    kind = "quick" if args.quick else "full"
    corpus = args.corpus or Path(f"/tmp/provreg-eval-corpus-{kind}")
    out = args.out or Path(f"/tmp/provreg-eval-{preset}-{kind}")
    provreg = [sys.executable, "-m", "registry"]
    if not (corpus / "manifest.json").is_file():
        make = [*provreg, "eval", "make-corpus", str(corpus)]
        subprocess.run(make + (["--quick"] if args.quick else []), check=True)
    run = [*provreg, "eval", "run", "--preset", preset, "--corpus", str(corpus), "--out", str(out)]
    return subprocess.run(run + (["--quick"] if args.quick else [])).returncode


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        raise SystemExit(
            "usage: python -m bench.eval_preset watermark|copy|c2pa|metadata "
            "[--quick] [--corpus DIR] [--out DIR]"
        )
    raise SystemExit(main(sys.argv[1], sys.argv[2:]))
