"""financing: prise en charge, schedule, claims, invoices, payments, délégants, NPEC

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:54:01

The first schema's four financing tables were placeholders no code ever wrote: they are
replaced by the shapes below (the upgrade refuses to drop one that holds rows).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


_PLACEHOLDERS = ('demandes_remboursement', 'echeances', 'prises_en_charge',
                 'organismes_delegants')


def upgrade():
    bind = op.get_bind()
    for table in _PLACEHOLDERS:
        if bind.execute(sa.text(f'SELECT count(*) FROM {table}')).scalar():
            raise RuntimeError(f'{table} holds rows: migrate them by hand before 0005.')
    for table in _PLACEHOLDERS:
        op.drop_table(table)
    op.create_table('compteurs_factures',
    sa.Column('annee', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('dernier', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('annee', name=op.f('pk_compteurs_factures'))
    )
    op.create_table('niveaux_prise_en_charge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_certification', sa.String(length=12), nullable=False),
    sa.Column('idcc', sa.String(length=4), nullable=False),
    sa.Column('npec', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('valable_du', sa.Date(), nullable=False),
    sa.Column('valable_au', sa.Date(), nullable=True),
    sa.Column('libelle', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_niveaux_prise_en_charge')),
    sa.UniqueConstraint('code_certification', 'idcc', 'valable_du', name=op.f('uq_niveaux_prise_en_charge_code_certification'))
    )
    with op.batch_alter_table('niveaux_prise_en_charge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_niveaux_prise_en_charge_code_certification'), ['code_certification'], unique=False)

    op.create_table('organismes_delegants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nom', sa.String(length=200), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=True),
    sa.Column('numero_declaration_activite', sa.String(length=20), nullable=True),
    sa.Column('adresse', sa.String(length=300), nullable=True),
    sa.Column('code_postal', sa.String(length=5), nullable=True),
    sa.Column('commune', sa.String(length=100), nullable=True),
    sa.Column('contact_civilite', sa.String(length=4), nullable=True),
    sa.Column('contact_prenom', sa.String(length=100), nullable=True),
    sa.Column('contact_nom', sa.String(length=100), nullable=True),
    sa.Column('contact_fonction', sa.String(length=100), nullable=True),
    sa.Column('contact_telephone', sa.String(length=20), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('actif', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organismes_delegants')),
    sa.UniqueConstraint('siret', name=op.f('uq_organismes_delegants_siret'))
    )
    op.create_table('plafonds_frais_annexes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nature', sa.String(length=30), nullable=False),
    sa.Column('montant', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('valable_du', sa.Date(), nullable=False),
    sa.Column('valable_au', sa.Date(), nullable=True),
    sa.Column('base_legale', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plafonds_frais_annexes')),
    sa.UniqueConstraint('nature', 'valable_du', name=op.f('uq_plafonds_frais_annexes_nature'))
    )
    op.create_table('prises_en_charge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('opco_code', sa.String(length=20), nullable=True),
    sa.Column('numero_opco', sa.String(length=50), nullable=True),
    sa.Column('date_depot', sa.Date(), nullable=False),
    sa.Column('date_complet', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_date', sa.Date(), nullable=False),
    sa.Column('motif', sa.Text(), nullable=True),
    sa.Column('date_decision', sa.Date(), nullable=True),
    sa.Column('date_conclusion', sa.Date(), nullable=True),
    sa.Column('date_debut', sa.Date(), nullable=False),
    sa.Column('date_fin', sa.Date(), nullable=False),
    sa.Column('npec_id', sa.Integer(), nullable=True),
    sa.Column('npec', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('part_distance', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('montant_opco', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('prix_formation', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('reste_a_charge', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('participation_employeur', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('frais_premier_equipement', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('nuits_hebergement', sa.Integer(), nullable=True),
    sa.Column('repas_restauration', sa.Integer(), nullable=True),
    sa.Column('montant_frais_annexes', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('organisme_delegant_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_prises_en_charge_dossier_id_dossiers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['npec_id'], ['niveaux_prise_en_charge.id'], name=op.f('fk_prises_en_charge_npec_id_niveaux_prise_en_charge'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opco_code'], ['opcos.code'], name=op.f('fk_prises_en_charge_opco_code_opcos')),
    sa.ForeignKeyConstraint(['organisme_delegant_id'], ['organismes_delegants.id'], name=op.f('fk_prises_en_charge_organisme_delegant_id_organismes_delegants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prises_en_charge')),
    sa.UniqueConstraint('dossier_id', name=op.f('uq_prises_en_charge_dossier_id'))
    )
    with op.batch_alter_table('prises_en_charge', schema=None) as batch_op:
        batch_op.create_index('ix_pec_state_opco', ['state', 'opco_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_prises_en_charge_numero_opco'), ['numero_opco'], unique=False)
        batch_op.create_index(batch_op.f('ix_prises_en_charge_opco_code'), ['opco_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_prises_en_charge_organisme_delegant_id'), ['organisme_delegant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prises_en_charge_state'), ['state'], unique=False)

    op.create_table('echeances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prise_en_charge_id', sa.Integer(), nullable=False),
    sa.Column('rang', sa.Integer(), nullable=False),
    sa.Column('annee_contrat', sa.Integer(), nullable=False),
    sa.Column('nature', sa.String(length=8), nullable=False),
    sa.Column('pourcentage', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('montant', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('date_prevue', sa.Date(), nullable=False),
    sa.Column('hors_echeancier', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['prise_en_charge_id'], ['prises_en_charge.id'], name=op.f('fk_echeances_prise_en_charge_id_prises_en_charge'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_echeances')),
    sa.UniqueConstraint('prise_en_charge_id', 'annee_contrat', 'nature', name=op.f('uq_echeances_prise_en_charge_id'))
    )
    with op.batch_alter_table('echeances', schema=None) as batch_op:
        batch_op.create_index('ix_echeances_date_prevue', ['date_prevue'], unique=False)

    op.create_table('factures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('numero', sa.String(length=20), nullable=False),
    sa.Column('annee', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('destinataire', sa.String(length=10), nullable=False),
    sa.Column('prise_en_charge_id', sa.Integer(), nullable=False),
    sa.Column('montant', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('date_emission', sa.Date(), nullable=False),
    sa.Column('date_echeance', sa.Date(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_factures_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_factures_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prise_en_charge_id'], ['prises_en_charge.id'], name=op.f('fk_factures_prise_en_charge_id_prises_en_charge'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_factures')),
    sa.UniqueConstraint('annee', 'sequence', name=op.f('uq_factures_annee')),
    sa.UniqueConstraint('numero', name=op.f('uq_factures_numero'))
    )
    with op.batch_alter_table('factures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_factures_prise_en_charge_id'), ['prise_en_charge_id'], unique=False)
        batch_op.create_index('uq_factures_employeur', ['prise_en_charge_id'], unique=True, sqlite_where=sa.text("destinataire = 'employeur'"), postgresql_where=sa.text("destinataire = 'employeur'"))

    op.create_table('demandes_remboursement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prise_en_charge_id', sa.Integer(), nullable=False),
    sa.Column('echeance_id', sa.Integer(), nullable=False),
    sa.Column('montant', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('montant_frais', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('facture_id', sa.Integer(), nullable=True),
    sa.Column('certificat_document_id', sa.Integer(), nullable=True),
    sa.Column('recepisse_document_id', sa.Integer(), nullable=True),
    sa.Column('deposee_le', sa.Date(), nullable=True),
    sa.Column('deposee_par_id', sa.Integer(), nullable=True),
    sa.Column('montant_paye', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('payee_le', sa.Date(), nullable=True),
    sa.Column('rejetee_le', sa.Date(), nullable=True),
    sa.Column('motif_rejet', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['certificat_document_id'], ['documents.id'], name=op.f('fk_demandes_remboursement_certificat_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_demandes_remboursement_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deposee_par_id'], ['users.id'], name=op.f('fk_demandes_remboursement_deposee_par_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['echeance_id'], ['echeances.id'], name=op.f('fk_demandes_remboursement_echeance_id_echeances'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['facture_id'], ['factures.id'], name=op.f('fk_demandes_remboursement_facture_id_factures'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prise_en_charge_id'], ['prises_en_charge.id'], name=op.f('fk_demandes_remboursement_prise_en_charge_id_prises_en_charge'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recepisse_document_id'], ['documents.id'], name=op.f('fk_demandes_remboursement_recepisse_document_id_documents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demandes_remboursement'))
    )
    with op.batch_alter_table('demandes_remboursement', schema=None) as batch_op:
        batch_op.create_index('ix_claims_state_deposee', ['state', 'deposee_le'], unique=False)
        batch_op.create_index(batch_op.f('ix_demandes_remboursement_prise_en_charge_id'), ['prise_en_charge_id'], unique=False)
        batch_op.create_index('uq_claims_active', ['echeance_id'], unique=True, sqlite_where=sa.text("state != 'rejetee'"), postgresql_where=sa.text("state != 'rejetee'"))

    op.create_table('paiements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demande_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('montant', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_paiements_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['demande_id'], ['demandes_remboursement.id'], name=op.f('fk_paiements_demande_id_demandes_remboursement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paiements'))
    )
    with op.batch_alter_table('paiements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paiements_date'), ['date'], unique=False)
        batch_op.create_index(batch_op.f('ix_paiements_demande_id'), ['demande_id'], unique=False)

    with op.batch_alter_table('cfas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_civilite', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('contact_prenom', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_nom', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_fonction', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_telephone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('tva_intracom', sa.String(length=13), nullable=True))
        batch_op.add_column(sa.Column('iban', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('bic', sa.String(length=11), nullable=True))

    with op.batch_alter_table('opcos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adresse', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('code_postal', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('commune', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('opcos', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('commune')
        batch_op.drop_column('code_postal')
        batch_op.drop_column('adresse')

    with op.batch_alter_table('cfas', schema=None) as batch_op:
        batch_op.drop_column('bic')
        batch_op.drop_column('iban')
        batch_op.drop_column('tva_intracom')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_telephone')
        batch_op.drop_column('contact_fonction')
        batch_op.drop_column('contact_nom')
        batch_op.drop_column('contact_prenom')
        batch_op.drop_column('contact_civilite')

    with op.batch_alter_table('paiements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paiements_demande_id'))
        batch_op.drop_index(batch_op.f('ix_paiements_date'))

    op.drop_table('paiements')
    with op.batch_alter_table('demandes_remboursement', schema=None) as batch_op:
        batch_op.drop_index('uq_claims_active', sqlite_where=sa.text("state != 'rejetee'"), postgresql_where=sa.text("state != 'rejetee'"))
        batch_op.drop_index(batch_op.f('ix_demandes_remboursement_prise_en_charge_id'))
        batch_op.drop_index('ix_claims_state_deposee')

    op.drop_table('demandes_remboursement')
    with op.batch_alter_table('factures', schema=None) as batch_op:
        batch_op.drop_index('uq_factures_employeur', sqlite_where=sa.text("destinataire = 'employeur'"), postgresql_where=sa.text("destinataire = 'employeur'"))
        batch_op.drop_index(batch_op.f('ix_factures_prise_en_charge_id'))

    op.drop_table('factures')
    with op.batch_alter_table('echeances', schema=None) as batch_op:
        batch_op.drop_index('ix_echeances_date_prevue')

    op.drop_table('echeances')
    with op.batch_alter_table('prises_en_charge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prises_en_charge_state'))
        batch_op.drop_index(batch_op.f('ix_prises_en_charge_organisme_delegant_id'))
        batch_op.drop_index(batch_op.f('ix_prises_en_charge_opco_code'))
        batch_op.drop_index(batch_op.f('ix_prises_en_charge_numero_opco'))
        batch_op.drop_index('ix_pec_state_opco')

    op.drop_table('prises_en_charge')
    op.drop_table('plafonds_frais_annexes')
    op.drop_table('organismes_delegants')
    with op.batch_alter_table('niveaux_prise_en_charge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_niveaux_prise_en_charge_code_certification'))

    op.drop_table('niveaux_prise_en_charge')
    op.drop_table('compteurs_factures')
    # ### end Alembic commands ###
