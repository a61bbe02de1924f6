"""Tests of the detectors (pure: no registry, no Ray, except one end-to-end case)."""
