"""media store and retroactive matching: media_objects, archive_hashes, retro_runs

``media_objects``: what the content-addressed media store holds per asset (original bytes,
thumbnail); rows are stamped, never deleted, when media is removed for legal reasons.
``archive_hashes``: the PDQ hash of every ingested image (the archive index's source of
truth). ``retro_runs``: each search of the archive for a bank's references, with its bank
generation. No ledger table changes. Role grants: infra/postgres/roles.sql.

Revision ID: 0006m
Revises: 0006l
Create Date: 2026-11-30 13:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0006m'
down_revision: Union[str, Sequence[str], None] = '0006l'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None



def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('media_objects',
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=True),
    sa.Column('deleted_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['asset_sha256'], ['assets.sha256'], name=op.f('fk_media_objects_asset_sha256_assets')),
    sa.PrimaryKeyConstraint('asset_sha256', 'kind', name=op.f('pk_media_objects'))
    )
    op.create_table('archive_hashes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdq', sa.String(length=64), nullable=False),
    sa.Column('quality', sa.SmallInteger(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['asset_sha256'], ['assets.sha256'], name=op.f('fk_archive_hashes_asset_sha256_assets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_hashes')),
    sa.UniqueConstraint('asset_sha256', name=op.f('uq_archive_hashes_asset_sha256'))
    )
    op.create_table('retro_runs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('bank_id', sa.BigInteger(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('reference_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('ingest_run_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('archive_size', sa.BigInteger(), nullable=False),
    sa.Column('matches', sa.Integer(), nullable=False),
    sa.Column('verdicts_written', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_retro_runs_bank_id_banks')),
    sa.ForeignKeyConstraint(['ingest_run_id'], ['ingest_runs.id'], name=op.f('fk_retro_runs_ingest_run_id_ingest_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retro_runs')),
    sa.UniqueConstraint('bank_id', 'generation', name=op.f('uq_retro_runs_bank_id'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('retro_runs')
    op.drop_table('archive_hashes')
    op.drop_table('media_objects')
