"""the CERFA FA13's last boxes: where the contract is signed, the employer's attestation of the
supporting documents, a public employer's adhesion to the specific unemployment insurance, and
whether the CFA is a CFA d'entreprise

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contrats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lieu_signature', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('attestation_pieces', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('adhesion_assurance_chomage', sa.Boolean(),
                                      nullable=True))
    with op.batch_alter_table('cfas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cfa_entreprise', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('cfas', schema=None) as batch_op:
        batch_op.drop_column('cfa_entreprise')
    with op.batch_alter_table('contrats', schema=None) as batch_op:
        batch_op.drop_column('adhesion_assurance_chomage')
        batch_op.drop_column('attestation_pieces')
        batch_op.drop_column('lieu_signature')
