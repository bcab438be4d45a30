"""the dossier list's indexes (issue 16 §1): the advisor menu of a training's staff reads a
covering index of (formation_id, cfa_conseiller_id) instead of the dossiers table, and the
CFA's staff are found by (role, user_id) instead of every account's roles

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 20:15:00

The employer's scope needs no new index: it became an ``id IN (… UNION …)`` of two index
searches (portal/policy/scope.py). tests/test_query_plans.py reads the plans and fails when one
loses its index.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_dossiers_formation_conseiller', 'dossiers',
                    ['formation_id', 'cfa_conseiller_id'], unique=False)
    op.create_index('ix_user_roles_role_user', 'user_roles', ['role', 'user_id'], unique=False)


def downgrade():
    op.drop_index('ix_user_roles_role_user', table_name='user_roles')
    op.drop_index('ix_dossiers_formation_conseiller', table_name='dossiers')
