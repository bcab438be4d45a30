"""training actions: catalogue, sessions, requests with their history, attendance, limits

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:20:00

The first schema's three training-action tables were placeholders no code ever wrote: they are
replaced by the shapes below (the upgrade refuses to drop one that holds rows).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


_PLACEHOLDERS = ('inscriptions', 'sessions_formation', 'actions_formation')


def upgrade():
    bind = op.get_bind()
    for table in _PLACEHOLDERS:
        if bind.execute(sa.text(f'SELECT count(*) FROM {table}')).scalar():
            raise RuntimeError(f'{table} holds rows: migrate them by hand before 0006.')
    for table in _PLACEHOLDERS:
        op.drop_table(table)
    op.create_table('regles_inscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('valeur', sa.Integer(), nullable=False),
    sa.Column('libelle', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regles_inscription')),
    sa.UniqueConstraint('code', name=op.f('uq_regles_inscription_code'))
    )
    op.create_table('actions_formation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cfa_id', sa.Integer(), nullable=False),
    sa.Column('intitule', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('objectifs', sa.Text(), nullable=True),
    sa.Column('public_vise', sa.String(length=255), nullable=True),
    sa.Column('duree_heures', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('prix', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('reservee_adherents', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cfa_id'], ['cfas.id'], name=op.f('fk_actions_formation_cfa_id_cfas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions_formation'))
    )
    with op.batch_alter_table('actions_formation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_formation_cfa_id'), ['cfa_id'], unique=False)

    op.create_table('sessions_formation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('date_debut', sa.Date(), nullable=False),
    sa.Column('date_fin', sa.Date(), nullable=False),
    sa.Column('heure_debut', sa.Time(), nullable=True),
    sa.Column('heure_fin', sa.Time(), nullable=True),
    sa.Column('lieu', sa.String(length=255), nullable=True),
    sa.Column('capacite', sa.Integer(), nullable=False),
    sa.Column('date_limite_inscription', sa.Date(), nullable=True),
    sa.Column('organisateur_id', sa.Integer(), nullable=True),
    sa.Column('annulee', sa.Boolean(), nullable=False),
    sa.Column('rappel_envoye_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions_formation.id'], name=op.f('fk_sessions_formation_action_id_actions_formation')),
    sa.ForeignKeyConstraint(['organisateur_id'], ['users.id'], name=op.f('fk_sessions_formation_organisateur_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions_formation'))
    )
    with op.batch_alter_table('sessions_formation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_formation_action_id'), ['action_id'], unique=False)

    op.create_table('inscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('motivation', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('employer_comment', sa.Text(), nullable=True),
    sa.Column('employer_decided_by_id', sa.Integer(), nullable=True),
    sa.Column('employer_decided_at', sa.DateTime(), nullable=True),
    sa.Column('cfa_comment', sa.Text(), nullable=True),
    sa.Column('waiting_rank', sa.Integer(), nullable=True),
    sa.Column('convocation_document_id', sa.Integer(), nullable=True),
    sa.Column('convocation_sent_at', sa.DateTime(), nullable=True),
    sa.Column('attestation_document_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attestation_document_id'], ['documents.id'], name=op.f('fk_inscriptions_attestation_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['convocation_document_id'], ['documents.id'], name=op.f('fk_inscriptions_convocation_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['employer_decided_by_id'], ['users.id'], name=op.f('fk_inscriptions_employer_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions_formation.id'], name=op.f('fk_inscriptions_session_id_sessions_formation')),
    sa.ForeignKeyConstraint(['structure_id'], ['structures.id'], name=op.f('fk_inscriptions_structure_id_structures')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inscriptions')),
    sa.UniqueConstraint('session_id', 'user_id', name=op.f('uq_inscriptions_session_id'))
    )
    with op.batch_alter_table('inscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inscriptions_session_id'), ['session_id'], unique=False)
        batch_op.create_index('ix_inscriptions_state_session', ['state', 'session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inscriptions_structure_id'), ['structure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inscriptions_user_id'), ['user_id'], unique=False)

    op.create_table('inscription_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inscription_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['inscription_id'], ['inscriptions.id'], name=op.f('fk_inscription_history_inscription_id_inscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inscription_history_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inscription_history'))
    )
    with op.batch_alter_table('inscription_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inscription_history_inscription_id'), ['inscription_id'], unique=False)

    op.create_table('presences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inscription_id', sa.Integer(), nullable=False),
    sa.Column('jour', sa.Date(), nullable=False),
    sa.Column('demi_journee', sa.String(length=10), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inscription_id'], ['inscriptions.id'], name=op.f('fk_presences_inscription_id_inscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_presences_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_presences')),
    sa.UniqueConstraint('inscription_id', 'jour', 'demi_journee', name=op.f('uq_presences_inscription_id'))
    )
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adherente', sa.Boolean(), server_default=sa.false(), nullable=False))

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.drop_column('adherente')

    op.drop_table('presences')
    with op.batch_alter_table('inscription_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inscription_history_inscription_id'))

    op.drop_table('inscription_history')
    with op.batch_alter_table('inscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inscriptions_user_id'))
        batch_op.drop_index(batch_op.f('ix_inscriptions_structure_id'))
        batch_op.drop_index('ix_inscriptions_state_session')
        batch_op.drop_index(batch_op.f('ix_inscriptions_session_id'))

    op.drop_table('inscriptions')
    with op.batch_alter_table('sessions_formation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_formation_action_id'))

    op.drop_table('sessions_formation')
    with op.batch_alter_table('actions_formation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_actions_formation_cfa_id'))

    op.drop_table('actions_formation')
    op.drop_table('regles_inscription')
    # ### end Alembic commands ###
