"""the dossiers' running total and the employer's scope indexes holding the id, on
PostgreSQL (issue 16 §5): the CFA's unfiltered list counts every dossier from a few rows
(dossier_tally, kept by statement triggers) instead of reading an index of 100 000 entries
(8 ms), and an employer's count reads only index entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 19:30:00

portal/models/tallies.py says what the tally is; tests/test_dossier_tally.py checks it against
count(*) after each way of writing dossiers, tests/test_query_plans.py reads the plans. On
SQLite the table is created and stays empty (its count of a table is already a walk of pages).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_EMPLOYER_INDEXES = (
    ('ix_dossiers_employer_contact_id', ['employer_contact_id', 'formation_id',
                                         'cfa_conseiller_id']),
    ('ix_dossiers_etablissement_contact', ['etablissement_id', 'employer_contact_id', 'state',
                                           'formation_id', 'cfa_conseiller_id']),
)

# One row per statement that adds or removes dossiers (none for a statement that changes no
# row), so that concurrent writers never wait on one counter row; TRUNCATE starts again at 0.
_TRIGGERS = """
CREATE FUNCTION dossier_tally_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dossier_tally (delta) SELECT count(*) FROM added HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION dossier_tally_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dossier_tally (delta) SELECT -count(*) FROM removed HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION dossier_tally_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dossier_tally;
    RETURN NULL;
END $$;
CREATE TRIGGER dossier_tally_added AFTER INSERT ON dossiers
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION dossier_tally_added();
CREATE TRIGGER dossier_tally_removed AFTER DELETE ON dossiers
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION dossier_tally_removed();
CREATE TRIGGER dossier_tally_emptied AFTER TRUNCATE ON dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_tally_emptied();
"""


def upgrade():
    op.create_table(
        'dossier_tally',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('delta', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_tally')),
    )
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, columns in _EMPLOYER_INDEXES:
        op.drop_index(name, table_name='dossiers')
        op.create_index(name, 'dossiers', columns, unique=False, postgresql_include=['id'])
    # In this transaction: creating the triggers locks out writers until the total is taken.
    op.execute(_TRIGGERS)
    op.execute('INSERT INTO dossier_tally (delta) SELECT count(*) FROM dossiers')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for trigger in ('dossier_tally_added', 'dossier_tally_removed', 'dossier_tally_emptied'):
            op.execute(f'DROP TRIGGER {trigger} ON dossiers')
            op.execute(f'DROP FUNCTION {trigger}()')
        for name, columns in _EMPLOYER_INDEXES:
            op.drop_index(name, table_name='dossiers')
            op.create_index(name, 'dossiers', columns, unique=False)
    op.drop_table('dossier_tally')
