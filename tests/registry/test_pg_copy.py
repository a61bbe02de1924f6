"""COPY text lines written by registry.ledger.pg_copy load exactly what psycopg's write_row
loads."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.ledger import pg_copy as copy_text
from registry.testing.scratch_db import PostgresAdmin

COLUMNS = "t text, b bytea, f float8, i bigint, ok boolean, at timestamptz, j jsonb"
# PostgreSQL text holds neither NUL nor lone surrogates; everything else must survive.
safe_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
hostile = st.sampled_from(
    [
        "a\tb",
        "line\nbreak",
        "cr\r\n",
        "back\\slash",
        "\\N",
        "\\.",
        "\\x41",
        "\\u0041",
        "\u2028\u2029",
        "\U0001f600",
        "tab\t\\t",
        "",
        " ",
        "caf\u00e9\x7f\x01",
    ]
)
texts = hostile | safe_text
json_texts = (hostile | safe_text).map(lambda s: json.dumps({"k": s}, ensure_ascii=False))
rows = st.tuples(
    st.none() | texts,
    st.none() | st.binary(max_size=40),
    st.none() | st.floats(allow_nan=False) | st.sampled_from([float("inf"), -float("inf")]),
    st.none() | st.integers(-(2**63), 2**63 - 1),
    st.none() | st.booleans(),
    st.none()
    | st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    st.none() | json_texts,
)


@pytest.fixture(scope="module")
def conn(pg_admin: PostgresAdmin) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_admin.admin_url) as connection:
        connection.execute(f"CREATE TEMP TABLE by_psycopg ({COLUMNS})")
        connection.execute(f"CREATE TEMP TABLE by_lines ({COLUMNS})")
        yield connection


def _load(conn: psycopg.Connection, batch: Sequence[tuple[object, ...]]) -> tuple[list, list]:
    conn.execute("TRUNCATE by_psycopg, by_lines")
    with conn.cursor().copy("COPY by_psycopg FROM STDIN") as copy:
        for row in batch:
            copy.write_row(row)
    with conn.cursor().copy("COPY by_lines FROM STDIN") as copy:
        copy.write("".join(copy_text.line(row) for row in batch))
    ordered = "SELECT * FROM {} ORDER BY ctid"
    return (
        conn.execute(ordered.format("by_psycopg")).fetchall(),  # type: ignore[arg-type]
        conn.execute(ordered.format("by_lines")).fetchall(),  # type: ignore[arg-type]
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=1, max_size=6))
def test_lines_load_what_write_row_loads(conn: psycopg.Connection, batch: list) -> None:
    expected, got = _load(conn, batch)
    assert got == expected
    assert [r[0] for r in got] == [r[0] for r in batch]  # and text comes back unchanged


def test_hostile_strings_round_trip(conn: psycopg.Connection) -> None:
    strings = ["a\tb\nc\rd\\e", "\\N", "\\.", "x\\\\y", "\\t literal", "\u00e9\U0001f600"]
    batch = [(s, s.encode(), None, None, None, None, json.dumps([s])) for s in strings]
    expected, got = _load(conn, batch)
    assert got == expected
    assert [(r[0], bytes(r[1]), r[6]) for r in got] == [(s, s.encode(), [s]) for s in strings]


def test_nul_is_refused_like_psycopg_refuses_it() -> None:
    with pytest.raises(psycopg.DataError, match="NUL"):
        copy_text.line(["a\x00b"])


def test_unknown_types_and_naive_times_are_refused() -> None:
    with pytest.raises(TypeError):
        copy_text.field(object())
    with pytest.raises(TypeError, match="naive"):
        copy_text.field(datetime(2026, 1, 1))
