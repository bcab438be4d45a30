"""hardening: outbox claims, unique constraints against races

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00

Each part of the change has its own section below (they were written side by side).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # --- section: outbox claims ------------------------------------------------------------------
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=32), nullable=True))
    # --- end section: outbox claims --------------------------------------------------------------

    # --- section: unique constraints -------------------------------------------------------------
    # One account per address whatever its case (every lookup is by lower(email)); one open
    # dossier per apprentice and training (final states: 'annule', 'rompu'). Rows that already
    # break them stop the upgrade with their ids, to be merged by hand (never dropped).
    open_dossier = "state NOT IN ('annule', 'rompu')"
    bind = op.get_bind()
    for what, query in (
            ("comptes de même adresse e-mail",
             "SELECT lower(email), count(*) FROM users GROUP BY lower(email) "
             "HAVING count(*) > 1"),
            ("dossiers ouverts d'un·e même alternant·e dans une formation",
             "SELECT formation_id, lower(apprenti_email), count(*) FROM dossiers "
             f"WHERE {open_dossier} GROUP BY formation_id, lower(apprenti_email) "
             "HAVING count(*) > 1")):
        duplicates = bind.execute(sa.text(query)).all()
        if duplicates:
            raise RuntimeError(f"Migration 0004 impossible : {what} en double "
                               f"{[tuple(row) for row in duplicates[:20]]} ; fusionnez-les.")
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_index("uq_dossiers_open_apprentice", "dossiers",
                    ["formation_id", sa.text("lower(apprenti_email)")], unique=True,
                    sqlite_where=sa.text(open_dossier), postgresql_where=sa.text(open_dossier))
    # --- end section: unique constraints ---------------------------------------------------------


def downgrade():
    # --- section: unique constraints -------------------------------------------------------------
    op.drop_index("uq_dossiers_open_apprentice", table_name="dossiers")
    op.drop_index("uq_users_email_lower", table_name="users")
    # --- end section: unique constraints ---------------------------------------------------------

    # --- section: outbox claims ------------------------------------------------------------------
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('claimed_at')
    # --- end section: outbox claims --------------------------------------------------------------
