"""ingest run lifecycle: a status per run (running, finished, interrupted)

Revision ID: 0005a
Revises: 0004
Create Date: 2026-11-30 10:20:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005a'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('ingest_runs', sa.Column('status', sa.String(length=16),
                                           server_default='running', nullable=False))
    # Runs from before this revision cannot be told apart (each batch stamped finished_at):
    # they count as finished, as `provreg status` showed them.
    op.execute("UPDATE ingest_runs SET status = 'finished'")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('ingest_runs', 'status')
