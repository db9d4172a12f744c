"""page imaging operations and quality flags

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('pages', sa.Column('operations', sa.Text(), nullable=True))
    op.add_column('pages', sa.Column('quality_flags', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('pages', 'quality_flags')
    op.drop_column('pages', 'operations')
