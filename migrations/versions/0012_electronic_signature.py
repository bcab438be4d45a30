"""electronic signature (issue 17): a request per document of a dossier, its signers in order
and the events of its evidence file

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:30:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

RUNNING = "status = 'en_cours'"


def upgrade():
    op.create_table(
        'signature_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('document', sa.String(length=20), nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('source_document_id', sa.Integer(), nullable=True),
        sa.Column('source_sha256', sa.String(length=64), nullable=False),
        sa.Column('signed_document_id', sa.Integer(), nullable=True),
        sa.Column('signed_sha256', sa.String(length=64), nullable=True),
        sa.Column('external_id', sa.String(length=100), nullable=True),
        sa.Column('external_document_id', sa.String(length=100), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['signed_document_id'], ['documents.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['source_document_id'], ['documents.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('signature_requests', schema=None) as batch_op:
        batch_op.create_index('ix_signature_requests_dossier', ['dossier_id', 'document'],
                              unique=False)
        batch_op.create_index('ix_signature_requests_external_id', ['external_id'],
                              unique=False)
        batch_op.create_index('uq_signature_requests_running', ['dossier_id', 'document'],
                              unique=True, sqlite_where=sa.text(RUNNING),
                              postgresql_where=sa.text(RUNNING))
    op.create_table(
        'signature_signers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=30), nullable=False),
        sa.Column('first_name', sa.String(length=100), nullable=False),
        sa.Column('last_name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('link_expires_at', sa.DateTime(), nullable=False),
        sa.Column('turn_started_at', sa.DateTime(), nullable=True),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('code_expires_at', sa.DateTime(), nullable=True),
        sa.Column('code_attempts', sa.Integer(), nullable=False),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('signed_at', sa.DateTime(), nullable=True),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.Column('external_id', sa.String(length=100), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['signature_requests.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_id', 'position'),
    )
    op.create_table(
        'signature_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('signer_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.Column('document_sha256', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['request_id'], ['signature_requests.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['signer_id'], ['signature_signers.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('signature_events', schema=None) as batch_op:
        batch_op.create_index('ix_signature_events_request_id', ['request_id'], unique=False)


def downgrade():
    op.drop_table('signature_events')
    op.drop_table('signature_signers')
    op.drop_table('signature_requests')
