"""access control: users, hash-chained audit log (append-only), 查档登记 (access register)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('username', sa.String(64), nullable=False),
        sa.Column('display_name', sa.Text(), nullable=True),
        sa.Column('password_hash', sa.String(255), nullable=False),
        sa.Column('roles', sa.String(128), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('username', name='uq_users_username'),
    )
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_name', sa.String(64), nullable=False),
        sa.Column('action', sa.String(32), nullable=False),
        sa.Column('query', sa.Text(), nullable=True),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.Column('prev_hash', sa.String(64), nullable=False),
        sa.Column('entry_hash', sa.String(64), nullable=False),
    )
    op.create_index('ix_audit_occurred', 'audit_log', ['occurred_at'])
    op.create_table(
        'access_register',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('register_number', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('clerk', sa.String(64), nullable=False),
        sa.Column('requester_name', sa.Text(), nullable=False),
        sa.Column('id_type', sa.String(16), nullable=False),
        sa.Column('id_number_masked', sa.String(32), nullable=False),
        sa.Column('id_number_hmac', sa.String(64), nullable=False),
        sa.Column('phone_masked', sa.String(32), nullable=True),
        sa.Column('relation', sa.String(16), nullable=False),
        sa.Column('proof', sa.JSON(), nullable=False),
        sa.Column('purpose', sa.Text(), nullable=False),
        sa.Column('query', sa.Text(), nullable=True),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('use', sa.String(16), nullable=False),
        sa.Column('pages_copied', sa.Integer(), nullable=False),
        sa.Column('approved_by', sa.String(64), nullable=True),
        sa.Column('remarks', sa.Text(), nullable=True),
        sa.UniqueConstraint('register_number', name='uq_register_number'),
    )
    op.create_index('ix_register_id_hmac', 'access_register', ['id_number_hmac'])
    op.create_index('ix_register_created', 'access_register', ['created_at'])

    # The audit log is append-only in the database itself, like `events` (0001): an edit
    # has to drop the trigger first, and then the hash chain still gives it away.
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    op.drop_index('ix_register_created', table_name='access_register')
    op.drop_index('ix_register_id_hmac', table_name='access_register')
    op.drop_table('access_register')
    op.drop_index('ix_audit_occurred', table_name='audit_log')
    op.drop_table('audit_log')  # its triggers go with it
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table('users')
