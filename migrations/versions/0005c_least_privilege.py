"""least privilege: audit rows only through a stamping function, password hashes only
through the account path, and a sequencer row only the writer may lock.

- ``audit_log.db_role``: the database role (``session_user``) that wrote the row. A BEFORE
  INSERT trigger sets it and ``at`` for every insert, whoever inserts, so neither can be
  supplied by the caller. Rows written before this revision keep NULL (unknown).
- ``provreg_audit(username, role, action, query)``: SECURITY DEFINER; the dashboard role's
  only way to append to ``audit_log`` (it has no INSERT on the table).
- ``provreg_password_hash(username)``: SECURITY DEFINER; the login path's only way to read a
  hash (``users.password_hash`` is not readable by the reader or the writer).
- ``ledger_sequencer``: one row; ``SELECT ... FOR UPDATE`` on it sequences the log. Row
  locks need UPDATE privilege, which only the writer (and the owner) hold, so the read-only
  dashboard role can no longer stall ingestion as it could with the advisory lock.

EXECUTE on both functions is revoked from PUBLIC here; infra/postgres/roles.sql grants it.

Revision ID: 0005c
Revises: 0005a
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005c'
down_revision: Union[str, Sequence[str], None] = '0005a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AUDIT_STAMP_FUNCTION = """
CREATE FUNCTION provreg_audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.db_role := session_user;
    NEW.at := now();
    RETURN NEW;
END
$$
"""

AUDIT_FUNCTION = """
CREATE FUNCTION provreg_audit(p_username text, p_role text, p_action text, p_query jsonb)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO public.audit_log (username, role, action, query)
    VALUES (p_username, p_role, p_action, p_query)
    RETURNING id
$$
"""

PASSWORD_HASH_FUNCTION = """
CREATE FUNCTION provreg_password_hash(p_username text)
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT password_hash FROM public.users WHERE username = p_username
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('audit_log', sa.Column('db_role', sa.String(length=63), nullable=True))
    op.create_table(
        'ledger_sequencer',
        sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_ledger_sequencer_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_sequencer')),
    )
    op.execute("INSERT INTO ledger_sequencer (id) VALUES (1)")
    op.execute(AUDIT_STAMP_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_stamp BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION provreg_audit_stamp()"
    )
    op.execute(AUDIT_FUNCTION)
    op.execute(PASSWORD_HASH_FUNCTION)
    for signature in ("provreg_audit(text, text, text, jsonb)", "provreg_password_hash(text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP FUNCTION IF EXISTS provreg_password_hash(text)")
    op.execute("DROP FUNCTION IF EXISTS provreg_audit(text, text, text, jsonb)")
    op.execute("DROP TRIGGER IF EXISTS audit_log_stamp ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS provreg_audit_stamp()")
    op.drop_table('ledger_sequencer')
    op.drop_column('audit_log', 'db_role')
