"""signed sightings: a sighting becomes a signed entry of the Merkle log

New sightings carry their log index, signed canonical bytes, leaf hash, signature and key id
(registry/ledger/sighting_log.py). Existing rows are not touched: their new columns stay NULL and
they are reported as unsigned legacy sightings. History is not rewritten, so no existing
verdict, node or checkpoint changes. Sightings become append-only like the ledger tables
(the trigger function of 0001).

Revision ID: 0005d
Revises: 0005c
Create Date: 2026-11-30 10:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005d'
down_revision: Union[str, Sequence[str], None] = '0005c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('sightings', sa.Column('log_index', sa.BigInteger(), nullable=True))
    op.add_column('sightings', sa.Column('canonical', sa.LargeBinary(), nullable=True))
    op.add_column('sightings', sa.Column('leaf_hash', sa.LargeBinary(), nullable=True))
    op.add_column('sightings', sa.Column('signature', sa.LargeBinary(), nullable=True))
    op.add_column('sightings', sa.Column('key_id', sa.String(length=64), nullable=True))
    op.create_unique_constraint(op.f('uq_sightings_log_index'), 'sightings', ['log_index'])
    op.create_foreign_key(
        op.f('fk_sightings_key_id_signing_keys'), 'sightings', 'signing_keys',
        ['key_id'], ['key_id'],
    )
    op.execute(
        "CREATE TRIGGER sightings_append_only BEFORE UPDATE OR DELETE ON sightings "
        "FOR EACH ROW EXECUTE FUNCTION provreg_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER sightings_no_truncate BEFORE TRUNCATE ON sightings "
        "FOR EACH STATEMENT EXECUTE FUNCTION provreg_refuse_change()"
    )


def downgrade() -> None:
    """Downgrade schema (drops the signatures of sightings signed since)."""
    op.execute("DROP TRIGGER IF EXISTS sightings_no_truncate ON sightings")
    op.execute("DROP TRIGGER IF EXISTS sightings_append_only ON sightings")
    op.drop_constraint(op.f('fk_sightings_key_id_signing_keys'), 'sightings', type_='foreignkey')
    op.drop_constraint(op.f('uq_sightings_log_index'), 'sightings', type_='unique')
    op.drop_column('sightings', 'key_id')
    op.drop_column('sightings', 'signature')
    op.drop_column('sightings', 'leaf_hash')
    op.drop_column('sightings', 'canonical')
    op.drop_column('sightings', 'log_index')
