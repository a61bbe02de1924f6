"""Stable-Diffusion laundering detection (see detector.py)."""
