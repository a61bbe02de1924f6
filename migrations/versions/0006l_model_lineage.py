"""model lineage: registered models, their tensor fingerprints, owners' weight keys

Revision ID: 0006l
Revises: 0006g
Create Date: 2026-11-30 13:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision: str = '0006l'
down_revision: Union[str, Sequence[str], None] = '0006g'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('lineage_models',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=64), nullable=False),
    sa.Column('tensor_count', sa.Integer(), nullable=False),
    sa.Column('parameters', sa.BigInteger(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_models')),
    sa.UniqueConstraint('name', name=op.f('uq_lineage_models_name'))
    )
    op.create_table('lineage_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('layers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_keys')),
    sa.UniqueConstraint('name', name=op.f('uq_lineage_keys_name'))
    )
    op.create_table('lineage_tensors',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('model_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('dtype', sa.String(length=16), nullable=False),
    sa.Column('shape', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('multiset_hash', sa.String(length=64), nullable=False),
    sa.Column('sketch', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['lineage_models.id'], name=op.f('fk_lineage_tensors_model_id_lineage_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_tensors'))
    )
    op.create_index(op.f('ix_lineage_tensors_model_id'), 'lineage_tensors', ['model_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_lineage_tensors_model_id'), table_name='lineage_tensors')
    op.drop_table('lineage_tensors')
    op.drop_table('lineage_keys')
    op.drop_table('lineage_models')
