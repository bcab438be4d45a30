"""the employer's scope indexes cover what the dossier list reads of their dossiers (issue 16
§1): the contact's index and the establishment's also hold the training and the CFA advisor,
so the list's count and filter menus of an employer read two index ranges, not the table

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 23:30:00

Same names, more columns (each keeps its leading column, so every search it served still
is). tests/test_query_plans.py reads the plans.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_dossiers_employer_contact_id', table_name='dossiers')
    op.create_index('ix_dossiers_employer_contact_id', 'dossiers',
                    ['employer_contact_id', 'formation_id', 'cfa_conseiller_id'], unique=False)
    op.drop_index('ix_dossiers_etablissement_contact', table_name='dossiers')
    op.create_index('ix_dossiers_etablissement_contact', 'dossiers',
                    ['etablissement_id', 'employer_contact_id', 'state', 'formation_id',
                     'cfa_conseiller_id'], unique=False)


def downgrade():
    op.drop_index('ix_dossiers_etablissement_contact', table_name='dossiers')
    op.create_index('ix_dossiers_etablissement_contact', 'dossiers',
                    ['etablissement_id', 'employer_contact_id', 'state'], unique=False)
    op.drop_index('ix_dossiers_employer_contact_id', table_name='dossiers')
    op.create_index('ix_dossiers_employer_contact_id', 'dossiers', ['employer_contact_id'],
                    unique=False)
