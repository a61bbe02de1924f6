"""Robustness evaluation of detectors: attacks, corpus manifests, metrics and reports.

Pure code (no registry, no Ray): ``ray_jobs.evaluate`` runs the detectors; ``provreg eval``
(``registry/cli_eval.py``) is the command line.
"""
