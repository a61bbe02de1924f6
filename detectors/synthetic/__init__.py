"""Synthetic-image detection from learned models in the store (see detector.py)."""
