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
    pass
    # --- end section: structures ----------------------------------------------------------------

    # --- section: dossier snapshot and establishment requests -----------------------------------
    pass
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
    pass
    # --- section: structures (downgrade) ---
    pass
