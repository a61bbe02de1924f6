"""PostgreSQL COPY text format, written directly for the ledger's bulk writes.

psycopg's ``Copy.write_row`` adapts every value through its dumper machinery (about 4 µs
per row of the ``verdicts`` table here, more than signing's share of a batch's budget once
the rest was cut). The ledger's rows hold only a few simple types, so lines are written
here and handed to ``Copy.write`` in large chunks. The format is PostgreSQL's
(https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): columns separated by
tabs, rows by newlines, ``\\N`` for NULL, and backslash, tab, newline and carriage return
escaped with a backslash; ``bytea`` in hex form (``\\x…``, its backslash escaped in turn).
tests/registry/test_pg_copy.py checks every type against ``write_row`` through a real server,
including hostile strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from psycopg import DataError

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_field(value: str) -> str:
    """``value`` escaped for a COPY text column (PostgreSQL text cannot hold NUL)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.translate(_ESCAPES)
    if "\x00" in value:
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return value


def bytea_field(value: bytes) -> str:
    """``value`` as a COPY text ``bytea`` column (hex form)."""
    return "\\\\x" + value.hex()


def field(value: object) -> str:
    """Any value the ledger writes, as one COPY text column."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return text_field(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytea_field(bytes(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("COPY of a naive datetime would take the server's time zone")
        return value.isoformat()
    raise TypeError(f"no COPY text form for {type(value).__name__}")


def line(values: Iterable[object]) -> str:
    """One COPY text row, newline included."""
    return "\t".join([field(value) for value in values]) + "\n"
