"""filing: classification, review, description (著录), volumes (案卷), classifier models

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ITEM_COLUMNS: list[sa.Column] = [
    sa.Column('class_code', sa.String(64), nullable=True),
    sa.Column('class_name', sa.Text(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('review_state', sa.String(16), nullable=True),
    sa.Column('reviewed_by', sa.String(64), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('volume_key', sa.String(160), nullable=True),
    sa.Column('doc_date', sa.String(8), nullable=True),
    sa.Column('doc_date_raw', sa.Text(), nullable=True),
    sa.Column('doc_date_inferred', sa.Boolean(), nullable=True),
    sa.Column('doc_number', sa.String(128), nullable=True),
    sa.Column('responsible', sa.Text(), nullable=True),
    sa.Column('description', sa.JSON(), nullable=True),
    sa.Column('sensitive', sa.String(128), nullable=True),
]

VOLUME_COLUMNS: list[sa.Column] = [
    sa.Column('volume_key', sa.String(160), nullable=True),
    sa.Column('class_code', sa.String(64), nullable=True),
    sa.Column('org', sa.String(32), nullable=True),
    sa.Column('village', sa.String(64), nullable=True),
    sa.Column('village_code', sa.String(16), nullable=True),
    sa.Column('label_token', sa.String(32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('compiled_by', sa.String(64), nullable=True),
    sa.Column('checked_by', sa.String(64), nullable=True),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pdf_path', sa.Text(), nullable=True),
    sa.Column('pdf_sha256', sa.String(64), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table('items') as batch:
        for column in ITEM_COLUMNS:
            batch.add_column(column)
        batch.create_index('ix_items_review', ['review_state'])
    with op.batch_alter_table('volumes') as batch:
        for column in VOLUME_COLUMNS:
            batch.add_column(column)
        batch.create_unique_constraint('uq_volume_key', ['volume_key'])
        batch.create_unique_constraint('uq_volume_label', ['label_token'])
    op.create_table(
        'classifier_models',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('samples', sa.Integer(), nullable=False),
        sa.Column('classes', sa.JSON(), nullable=False),
        sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('agent', sa.String(128), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('classifier_models')
    with op.batch_alter_table('volumes') as batch:
        batch.drop_constraint('uq_volume_label', type_='unique')
        batch.drop_constraint('uq_volume_key', type_='unique')
        for column in reversed(VOLUME_COLUMNS):
            batch.drop_column(column.name)
    with op.batch_alter_table('items') as batch:
        batch.drop_index('ix_items_review')
        for column in reversed(ITEM_COLUMNS):
            batch.drop_column(column.name)
