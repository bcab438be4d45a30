"""The dossier's tabs (SPEC §2) and the dossier-wide findings shared by every screen.

``TABS`` is the ordered registry. ``dossier_findings`` runs every tab's own checks plus the
cross-tab contract rules of portal/rules on the merged data, and attributes each finding to the
tab that shows its field: the tab pages, their check marks and the Résumé all use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.rules import ERROR, Finding
from portal.rules.contract import check_apprenticeship, check_professionalisation

from portal.dossiers.tabs.base import Section, Tab  # noqa: F401
from portal.dossiers.tabs.facts import contract_facts

# Rules name a few fields differently from the forms, or name a block: where to show them.
FIELD_ALIASES = {
    "representant_legal": "representant_nom",
    "tuteur_experience": "maitre_1_annees_experience",
    "tuteur_nombre_salaries": "maitre_1_nom",
    "maitre_1_nombre_apprentis": "maitre_1_nom",
    "duree_formation_heures": "date_fin_contrat",
}


@dataclass(frozen=True)
class TabFinding:
    tab: str
    finding: Finding


def _registry() -> list[Tab]:
    from portal.dossiers.tabs.alternant import AlternantTab
    from portal.dossiers.tabs.contract_tab import ContractTab
    from portal.dossiers.tabs.donnees import DonneesTab
    from portal.dossiers.tabs.employeur import EmployeurTab
    from portal.dossiers.tabs.mission import MissionTab
    from portal.dossiers.tabs.resume import ResumeTab
    from portal.dossiers.tabs.suivi import SuiviTab
    from portal.dossiers.tabs.vie_tab import StudentLifeTab
    return [DonneesTab(), AlternantTab(), EmployeurTab(), ContractTab(), MissionTab(),
            StudentLifeTab(), ResumeTab(), SuiviTab()]


TABS: list[Tab] = _registry()
TAB_BY_CODE: dict[str, Tab] = {tab.code: tab for tab in TABS}


def get_tab(code: str) -> Tab | None:
    return TAB_BY_CODE.get(code)


def visible_tabs(dossier) -> list[Tab]:
    return [tab for tab in TABS if tab.visible(dossier)]


def dossier_data(dossier, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every tab's stored fields merged (later tabs do not overwrite earlier ones), then the
    fields being submitted on top."""
    data: dict[str, Any] = {}
    for tab in TABS:
        for key, value in tab.load(dossier).items():
            data.setdefault(key, value)
    if overrides:
        data.update(overrides)
    return data


def contract_findings(data: dict[str, Any], dossier) -> list[Finding]:
    """The cross-tab rules (C1–C16 or the professionalisation limits), complete entry only for
    the contract checks; the legal representative (C4) whatever the entry level."""
    facts = contract_facts(data, dossier)
    if data.get("niveau_saisie") == "simple":
        from portal.rules.contract import check_legal_representative
        return check_legal_representative(facts)
    if data.get("dispositif") == "professionnalisation":
        findings = check_professionalisation(facts)
    else:
        findings = check_apprenticeship(facts)
    return _without_spent_deadlines(findings, facts, dossier)


def _without_spent_deadlines(findings: list[Finding], facts, dossier) -> list[Finding]:
    """The OPCO deadline (C15) speaks only while it runs (portal.dossiers.deadlines): a
    dossier sent to the OPCO, cancelled or broken off is never told it is late."""
    from portal.dossiers.deadlines import opco_deadline_applies
    from portal.rules.contract import check_opco_deadline
    if dossier is None or opco_deadline_applies(dossier):
        return findings
    spent = set(check_opco_deadline(facts))
    return [f for f in findings if f not in spent]


def _owners(name: str, tabs: list[Tab]) -> list[Tab]:
    return [tab for tab in tabs if tab.editable and tab.owns(name)]


def dossier_findings(dossier, data: dict[str, Any] | None = None) -> list[TabFinding]:
    """Every finding of the dossier, each with the tab showing its field (Résumé order)."""
    data = dossier_data(dossier) if data is None else data
    tabs = visible_tabs(dossier)
    out: list[TabFinding] = []
    seen: set[tuple[str, str, str]] = set()
    for tab in tabs:
        if not tab.editable:
            continue
        for finding in tab.check(data, dossier):
            key = (tab.code, finding.field, finding.message)
            if key not in seen:
                seen.add(key)
                out.append(TabFinding(tab.code, finding))
    for finding in contract_findings(data, dossier):
        field = FIELD_ALIASES.get(finding.field, finding.field)
        finding = Finding(finding.level, field, finding.message)
        # Shown on every tab that shows the field (the birth date is on two tabs).
        for tab in _owners(field, tabs):
            key = (tab.code, finding.field, finding.message)
            if key not in seen:
                seen.add(key)
                out.append(TabFinding(tab.code, finding))
    order = {tab.code: i for i, tab in enumerate(TABS)}
    out.sort(key=lambda tf: order[tf.tab])
    return out


def blocking_findings(tab: Tab, dossier, submitted: dict[str, Any]) -> list[Finding]:
    """What stops this tab's page from being saved: its own checks (required fields, formats,
    identifiers), and every cross-tab error shown on this tab that this submission brings
    (absent before it). An older anomaly caused by another tab stays shown but does not hold
    this page hostage; the legal minimum pay is never saved below, whoever caused it."""
    before = dossier_data(dossier)
    merged = dossier_data(dossier, submitted)
    own = {(f.field, f.message) for f in tab.check(merged, dossier)}
    existing = {(tf.finding.field, tf.finding.message)
                for tf in dossier_findings(dossier, before)
                if tf.tab == tab.code and tf.finding.level == ERROR}
    return [tf.finding for tf in dossier_findings(dossier, merged)
            if tf.tab == tab.code and tf.finding.level == ERROR and (
                (tf.finding.field, tf.finding.message) in own
                or (tf.finding.field, tf.finding.message) not in existing
                or tf.finding.field.startswith("remuneration_"))]


def tab_status(dossier, findings: list[TabFinding] | None = None) -> dict[str, bool]:
    """Tab code → complete and valid (no error left), for the check marks."""
    findings = dossier_findings(dossier) if findings is None else findings
    with_errors = {tf.tab for tf in findings if tf.finding.level == ERROR}
    return {tab.code: tab.editable and tab.code not in with_errors and tab.is_started(dossier)
            for tab in visible_tabs(dossier)}


def dossier_is_complete(dossier) -> bool:
    """Every required tab complete and valid (the workflow's saisie_complete guard)."""
    findings = dossier_findings(dossier)
    return not any(tf.finding.level == ERROR for tf in findings)
