"""the import's confirmation in the background worker: who confirmed, the ticked lines, the
progress (rows handled, last committed line), the outcome so far and a failed run's error

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_lines', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rows_done', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('last_line', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('outcome', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('error_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_import_batches_confirmed_by_id_users', 'users',
                                    ['confirmed_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_constraint('fk_import_batches_confirmed_by_id_users', type_='foreignkey')
        batch_op.drop_column('finished_at')
        batch_op.drop_column('error_message')
        batch_op.drop_column('outcome')
        batch_op.drop_column('last_line')
        batch_op.drop_column('rows_done')
        batch_op.drop_column('confirmed_lines')
        batch_op.drop_column('confirmed_by_id')
