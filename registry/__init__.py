"""provreg's registry: the signed, tamper-evident verdict ledger and everything around it."""

__version__ = "0.1.0"
