"""Developer checks run by the test script: `python -m registry.devtools check-migrations`.

``check-migrations`` migrates a scratch database to head and runs ``alembic check``, so the
models and the migrations cannot drift apart.
"""

from __future__ import annotations

import os
import sys
import uuid

import psycopg

from registry.db.engine import check_schema, upgrade_schema

ADMIN_URL = os.environ.get(
    "PROVREG_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def check_migrations() -> None:
    """Fail (non-zero exit) if the models differ from the migrations at head."""
    name = f"provreg_check_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        base, _, _ = ADMIN_URL.rpartition("/")
        url = base.replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
        upgrade_schema(url)
        check_schema(url)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    print("migrations match the models")


def main(argv: list[str]) -> int:
    """Dispatch a developer check by name."""
    if argv[1:] == ["check-migrations"]:
        check_migrations()
        return 0
    print("usage: python -m registry.devtools check-migrations", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
