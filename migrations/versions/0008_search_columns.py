"""search columns (issue 16 §2): the searched values of dossiers, establishments and prises en
charge folded once (lower case, no accents) into one ``recherche`` column each, back-filled,
with a GIN trigram index on PostgreSQL (pg_trgm) and a plain one on SQLite

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa

# The folding rule of the application (a pure function): the back-fill writes what the
# mapper events (portal/models/search_columns.py) would.
from portal.rules.search import search_text


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ('dossiers', 'etablissements', 'prises_en_charge')
INDEXES = {'dossiers': 'ix_dossiers_recherche',
           'etablissements': 'ix_etablissements_recherche',
           'prises_en_charge': 'ix_prises_en_charge_recherche'}
BATCH = 5000


def _sources():
    """(table, SELECT of (id, the values search_text folds, in order))."""
    def table(name, *columns):
        return sa.table(name, *(sa.column(c) for c in ('id', 'recherche') + columns))
    dossiers = table('dossiers', 'apprenti_nom', 'apprenti_prenom', 'apprenti_email',
                     'employeur_siret')
    etabs = table('etablissements', 'denomination', 'siret', 'structure_id')
    structures = table('structures', 'raison_sociale')
    pec = table('prises_en_charge', 'numero_opco')
    return [
        (dossiers, sa.select(dossiers.c.id, dossiers.c.apprenti_nom, dossiers.c.apprenti_prenom,
                             dossiers.c.apprenti_email, dossiers.c.employeur_siret)),
        (etabs, sa.select(etabs.c.id, etabs.c.denomination, etabs.c.siret,
                          structures.c.raison_sociale).select_from(etabs.outerjoin(
                              structures, structures.c.id == etabs.c.structure_id))),
        (pec, sa.select(pec.c.id, pec.c.numero_opco)),
    ]


def _backfill(bind):
    for table, query in _sources():
        update = table.update().where(table.c.id == sa.bindparam('pk')).values(
            recherche=sa.bindparam('text'))
        rows = [{'pk': pk, 'text': search_text(*values)}
                for pk, *values in bind.execute(query.order_by(table.c.id))]
        for start in range(0, len(rows), BATCH):
            bind.execute(update, rows[start:start + BATCH])


def upgrade():
    bind = op.get_bind()
    for name in TABLES:
        op.add_column(name, sa.Column('recherche', sa.Text(), nullable=True))
    _backfill(bind)
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name in TABLES:
        op.create_index(INDEXES[name], name, ['recherche'], unique=False,
                        postgresql_using='gin', postgresql_ops={'recherche': 'gin_trgm_ops'})


def downgrade():
    # A plain ALTER TABLE … DROP COLUMN (SQLite >= 3.35), not a batch copy: recreating
    # dossiers would lose SQLite's expression indexes and, with foreign keys on, cascade.
    for name in reversed(TABLES):
        op.drop_index(INDEXES[name], table_name=name)
        op.drop_column(name, 'recherche')
