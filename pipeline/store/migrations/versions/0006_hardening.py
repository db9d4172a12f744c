"""sign-in failures per client address (shared by every web process) and the processor's
live state (inbox entries waiting or ignored, paused for disk space)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('client', sa.String(64), nullable=False),  # the address the web server trusts
        sa.Column('username', sa.String(64), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_login_failures_client', 'login_failures', ['client', 'occurred_at'])
    op.create_table(
        'service_status',
        sa.Column('name', sa.String(64), primary_key=True),  # e.g. "inbox@default"
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('service_status')
    op.drop_index('ix_login_failures_client', table_name='login_failures')
    op.drop_table('login_failures')
