"""What the workflow table's columns mean where they are read: the deadlines, the dashboards'
blocks. (Locks: test_write_path / test_lock_doors; documents: test_documents_flow.)"""
from datetime import date

import pytest

from portal import policy
from portal.dossiers.deadlines import dossier_deadlines
from portal.dossiers.workflow import STATES, states_where
from portal.models import Dossier

# SPEC §3 and §7, written out (not read from the table the code reads).
NOT_VALIDATED = {"initialise", "en_saisie", "saisie_complete", "validation_demandee",
                 "a_corriger"}
NOT_SENT = NOT_VALIDATED | {"valide_formation", "economie_validee", "documents_retournes",
                            "documents_valides"}
STARTED = date(2026, 9, 1)
TODAY = date(2026, 10, 1)


@pytest.mark.parametrize("state", sorted(STATES))
def test_started_without_validated_dossier_follows_the_validated_column(state):
    dossier = Dossier(state=state, date_debut_contrat=STARTED)
    codes = {d.code for d in dossier_deadlines(dossier, today=TODAY)}
    flagged = "debut_sans_validation" in codes
    assert flagged is (state in NOT_VALIDATED), state


@pytest.mark.parametrize("state", sorted(STATES))
def test_the_opco_deadline_ends_when_the_table_says_it_is_sent(state):
    dossier = Dossier(state=state, date_debut_contrat=STARTED)
    codes = {d.code for d in dossier_deadlines(dossier, today=TODAY)}
    assert ("opco" in codes) is (state in NOT_SENT), state


def test_states_where_reads_the_columns():
    assert states_where(final=True) == ("annule", "rompu")
    assert states_where(opco_sent=True) == ("envoye_opco",)
    assert set(states_where(documents="convention")) == {
        "economie_validee", "documents_retournes", "documents_valides", "envoye_opco"}


class _Person:
    def __init__(self, *roles):
        self.roles = set(roles)

    def has_role(self, *roles):
        return bool(self.roles & set(roles))


@pytest.mark.parametrize("roles,sections", [
    (("cfa_admin",), ["cfa"]),
    (("cfa_conseiller", "employeur"), ["cfa", "referent"]),  # CFA staff see no "own" block
    (("formation_responsable",), ["formation"]),
    (("employeur",), ["own", "referent"]),
    (("alternant",), ["own"]),
    (("formation_gestionnaire", "alternant"), ["formation", "own"]),
])
def test_dashboard_blocks_by_role(roles, sections):
    assert policy.dashboard_sections(_Person(*roles)) == sections
