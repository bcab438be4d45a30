"""What a dossier tab is: its fields, how it loads and stores them, and its own checks.

Every tab works on one *flat* namespace of field names shared by all tabs (the same datum shown
on two tabs has the same name, e.g. ``apprenti_date_naissance`` on Données de base and
L'alternant). ``portal.dossiers.tabs.dossier_data`` merges what every tab loads; the cross-tab contract
checks (portal/rules) run on that merged dict, so the form, the Résumé, the import and the
documents all see the same findings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from portal.rules import ERROR, Finding


@dataclass
class Section:
    """A fieldset of the tab's page: a legend and the fields it shows, in order."""

    legend: str
    fields: list[str]
    help: str | None = None
    # CSS id of the block, and an optional condition name the page script toggles on
    # (e.g. "mineur" shows the legal representative block only for a minor).
    block_id: str | None = None
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


REQUIRED_MESSAGE = "Ce champ est obligatoire."


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Tab:
    """Base class of a dossier tab. Subclasses are declarative where they can be."""

    code: ClassVar[str]
    label: ClassVar[str]
    # Fields shown (and owned, for the attribution of findings) by this tab.
    fields: ClassVar[tuple[str, ...]] = ()
    # Whether the tab has a form at all (Résumé, Suivi – Info and Vie étudiante do not).
    editable: ClassVar[bool] = True
    template: ClassVar[str] = "admin/dossier/tab_form.html"

    # --- which dossiers show the tab -----------------------------------------------------------
    def visible(self, dossier) -> bool:
        return True

    # --- data -------------------------------------------------------------------------------
    def load(self, dossier) -> dict[str, Any]:
        """This tab's fields as stored (flat names → Python values)."""
        return {}

    def store(self, dossier, data: dict[str, Any], user) -> None:
        """Write the tab's fields to the dossier and its parts (no commit)."""

    def form_class(self, dossier):
        return None

    def sections(self, dossier, data: dict[str, Any]) -> list[Section]:
        return []

    # --- checks -------------------------------------------------------------------------------
    def required(self, data: dict[str, Any], dossier) -> set[str]:
        """Fields that must be filled, given the data (conditional blocks included)."""
        return set()

    def own_findings(self, data: dict[str, Any], dossier) -> list[Finding]:
        """Checks of this tab alone (formats, identifiers): always block the save."""
        return []

    def check(self, data: dict[str, Any], dossier, labels: dict[str, str] | None = None
              ) -> list[Finding]:
        findings = [Finding(ERROR, name, REQUIRED_MESSAGE)
                    for name in sorted(self.required(data, dossier), key=self._order)
                    if blank(data.get(name))]
        findings.extend(self.own_findings(data, dossier))
        return findings

    def _order(self, name: str) -> int:
        try:
            return self.fields.index(name)
        except ValueError:
            return len(self.fields)

    def owns(self, name: str) -> bool:
        if name in self.fields:
            return True
        return any(name.startswith(prefix) for prefix in self.field_prefixes)

    # Dynamic fields (e.g. remuneration_3) are owned by prefix.
    field_prefixes: ClassVar[tuple[str, ...]] = ()

    def is_started(self, dossier) -> bool:
        return True

    # --- context for the page ----------------------------------------------------------------
    def extra_context(self, dossier, data: dict[str, Any]) -> dict[str, Any]:
        return {}


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except Exception:  # noqa: BLE001 - any unparsable text is "no value"
        return None


def as_date(value: Any) -> date | None:
    return value if isinstance(value, date) else None
