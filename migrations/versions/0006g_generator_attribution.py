"""generator attribution: versioned enrolment records and gallery calibrations

Revision ID: 0006g
Revises: 0005d
Create Date: 2026-11-30 13:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision: str = '0006g'
down_revision: Union[str, Sequence[str], None] = '0005d'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('generator_enrolments',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('image_count', sa.Integer(), nullable=True),
    sa.Column('image_size', sa.String(length=32), nullable=True),
    sa.Column('far', sa.Float(), nullable=True),
    sa.Column('calibration', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('fingerprint_sha256', sa.String(length=64), nullable=True),
    sa.Column('store_entry', sa.String(length=200), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generator_enrolments')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_generator_enrolments_name'))
    )
    op.create_index(op.f('ix_generator_enrolments_name'), 'generator_enrolments', ['name'],
                    unique=False)
    op.create_table('attribution_calibrations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('far', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('known_images', sa.Integer(), nullable=False),
    sa.Column('unknown_images', sa.Integer(), nullable=False),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('generators', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribution_calibrations'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('attribution_calibrations')
    op.drop_index(op.f('ix_generator_enrolments_name'), table_name='generator_enrolments')
    op.drop_table('generator_enrolments')
