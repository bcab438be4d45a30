"""the one write path: référent approval queue, dossier snapshot, establishment requests,
import confirmations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:30:00

Each part of the change has its own section below (they were written side by side).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # --- section: structures and their first référent -----------------------------------------
    # Who put a structure on Sillon: 'cfa' (registered by the CFA) or 'saisie' (created by a
    # dossier's entry). Existing rows count as the CFA's: their first référent then comes from
    # the CFA's approval queue, never from the first person who claims it.
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origine', sa.String(length=10), nullable=False,
                                      server_default='cfa'))
    # --- end section: structures ----------------------------------------------------------------

    # --- section: dossier snapshot and establishment requests -----------------------------------
    # A dossier's frozen establishment / employer / training data (portal.dossiers.snapshot) and
    # the known establishment of another structure it asked to be linked to.
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('snapshot_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('etablissement_demande_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dossiers_etablissement_demande_id'),
                              ['etablissement_demande_id'], unique=False)
        batch_op.create_foreign_key('fk_dossiers_etablissement_demande_id_etablissements',
                                    'etablissements', ['etablissement_demande_id'], ['id'])
    # --- end section: snapshot --------------------------------------------------------------------

    # --- section: import ---------------------------------------------------------------------------
    pass
    # --- end section: import -----------------------------------------------------------------------

    # --- section: registration ---------------------------------------------------------------------
    pass
    # --- end section: registration -----------------------------------------------------------------

    # --- section: lead -------------------------------------------------------------------------------
    pass
    # --- end section: lead ---------------------------------------------------------------------------


def downgrade():
    # Sections in reverse order; each undoes its own upgrade.
    # --- section: lead (downgrade) ---
    pass
    # --- section: registration (downgrade) ---
    pass
    # --- section: import (downgrade) ---
    pass
    # --- section: snapshot (downgrade) ---
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_constraint('fk_dossiers_etablissement_demande_id_etablissements',
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_dossiers_etablissement_demande_id'))
        batch_op.drop_column('etablissement_demande_id')
        batch_op.drop_column('snapshot_at')
        batch_op.drop_column('snapshot')
    # --- section: structures (downgrade) ---
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.drop_column('origine')
