"""web sessions: server-side, so signing out or disabling an account ends them at once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(64), nullable=False),  # SHA-256 of the cookie's session id
        sa.Column('username', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('token_hash', name='uq_web_sessions_token'),
    )
    op.create_index('ix_web_sessions_user', 'web_sessions', ['username'])


def downgrade() -> None:
    op.drop_index('ix_web_sessions_user', table_name='web_sessions')
    op.drop_table('web_sessions')
