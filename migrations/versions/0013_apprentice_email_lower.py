"""the dossiers' apprentice e-mail indexed as it is searched, without case (issue 16 §5): the
import's lookup of the file's addresses among the dossiers (portal.dossiers.imports
.known_dossiers) and the duplicate check of a creation read lower(apprenti_email); the plain
index on apprenti_email served no query

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:30:00

tests/test_query_plans.py reads the plans.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_dossiers_apprenti_email', table_name='dossiers')
    op.create_index('ix_dossiers_apprenti_email_lower', 'dossiers',
                    [sa.text('lower(apprenti_email)')], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # An expression index has no statistics until ANALYZE: without them the planner
        # guesses that 500 addresses match most dossiers and reads the whole table.
        op.execute('ANALYZE dossiers')


def downgrade():
    op.drop_index('ix_dossiers_apprenti_email_lower', table_name='dossiers')
    op.create_index('ix_dossiers_apprenti_email', 'dossiers', ['apprenti_email'], unique=False)
