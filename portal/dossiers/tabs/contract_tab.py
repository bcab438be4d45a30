"""Le contrat (SPEC §2, complete entry level only): codes, dates, working time, the
remuneration grid pre-filled with the legal minimum (portal.rules.remuneration), benefits.

The grid's rows are the periods of `minimum_schedule` for the dossier's dates and birth date:
the employer may raise a percent or an amount, never go below the minimum (C14, reported by the
cross-tab checks on "remuneration_N"). Dates or birth date changed: the grid is recomputed,
keeping each entered rate that is still at or above its new minimum."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import request
from typing import Any

from portal.rules import ERROR, INFO, Finding
from portal.rules.formatting import eur, percent
from portal.rules.remuneration import minimum_schedule

from portal.dossiers.tabs.base import Section, Tab, as_date, to_decimal

CONTRAT = ("type_contrat", "mode_contractuel", "type_derogation", "numero_contrat_precedent",
           "date_conclusion", "date_debut_formation_pratique", "date_debut_formation_cfa",
           "date_effet_avenant", "duree_hebdo_heures", "duree_hebdo_minutes", "travail_risque",
           "salaire_minimum_conventionnel", "avantage_nourriture", "avantage_logement",
           "avantage_autre", "caisse_retraite_complementaire", "lieu_signature",
           "attestation_pieces", "adhesion_assurance_chomage")
# Check boxes of the form (stored as booleans, False when never ticked).
FLAGS = ("travail_risque", "attestation_pieces", "adhesion_assurance_chomage")
DOSSIER = ("date_debut_contrat", "date_fin_contrat")
AMENDMENTS = {"31", "32", "33", "34", "35", "36", "37", "38"}


def schedule_for(data: dict[str, Any]):
    """The legal minimum periods for the merged data ([] when dates or birth are missing)."""
    birth, start, end = (as_date(data.get("apprenti_date_naissance")),
                         as_date(data.get("date_debut_contrat")),
                         as_date(data.get("date_fin_contrat")))
    if not (birth and start and end) or end < start:
        return []
    try:
        return minimum_schedule(
            birth, start, end, dispositif=data.get("dispositif") or "apprentissage",
            smc_monthly=to_decimal(data.get("salaire_minimum_conventionnel")),
            qualified_level4=bool(data.get("qualifie_niveau_4")),
            mayotte=(data.get("employeur_code_postal") or "").startswith("976"))
    except (LookupError, ValueError):
        return []


def merge_rows(schedule, entered: list[dict], *, floor: bool = False) -> list[dict]:
    """Rows for the grid: each schedule period with the entered percent / amount; missing →
    the minimum. What the user just typed is kept even below the minimum (the check then names
    the period); with `floor` (showing stored rows after the dates, the birth date or the
    dispositif changed) a stored rate now below its minimum is raised to it."""
    rows = []
    for index, period in enumerate(schedule):
        given = entered[index] if index < len(entered) else {}
        pct, amount = to_decimal(given.get("percent")), to_decimal(given.get("monthly_amount"))
        if floor and pct is not None and pct < period.percent:
            pct, amount = period.percent, period.monthly_amount
        if pct is None and amount is None:
            pct, amount = period.percent, period.monthly_amount
        elif pct is None and amount is not None and period.reference_monthly:
            pct = (amount * 100 / period.reference_monthly).quantize(Decimal("0.01"))
        elif amount is None and pct is not None and period.reference_monthly:
            amount = (pct * period.reference_monthly / 100).quantize(Decimal("0.01"))
        rows.append({"percent": pct, "monthly_amount": amount, "start": period.start,
                     "end": period.end, "contract_year": period.contract_year,
                     "base": period.base, "minimum_percent": period.percent,
                     "minimum_amount": period.monthly_amount,
                     "reference_monthly": period.reference_monthly,
                     "age_band": period.age_band_label})
    return rows


def input_value(value, places: int | None = None) -> str:
    """A decimal as shown in an input, French style: 43 / 43,5 / 783,90."""
    if value is None or value == "":
        return ""
    number = to_decimal(value)
    if number is None:
        return str(value)
    if places is not None:
        text = f"{number:.{places}f}"
    else:
        text = format(number, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


class ContractTab(Tab):
    code = "contrat"
    label = "Le contrat"
    fields = CONTRAT + DOSSIER + ("remuneration",)
    field_prefixes = ("remuneration_",)
    template = "admin/dossier/tab_contract.html"

    def visible(self, dossier) -> bool:
        return dossier.niveau_saisie != "simple"

    def form_class(self, dossier):
        from forms.tabs.contract import ContractForm
        return ContractForm

    # --- data ---------------------------------------------------------------------------------
    def load(self, dossier) -> dict[str, Any]:
        contrat = dossier.contrat
        data: dict[str, Any] = {name: getattr(dossier, name) for name in DOSSIER}
        for name in CONTRAT:
            data[name] = getattr(contrat, name) if contrat is not None else (
                False if name in FLAGS else None)
        data["remuneration"] = [
            {"percent": p.pourcentage, "monthly_amount": p.montant_mensuel,
             "start": p.date_debut, "end": p.date_fin} for p in dossier.remunerations]
        return data

    def form_data(self, form, dossier) -> dict[str, Any]:
        data = {name: form[name].data for name in CONTRAT + DOSSIER}
        entered = [{"percent": row.form.percent.data,
                    "monthly_amount": row.form.monthly_amount.data}
                   for row in form.remuneration.entries]
        from portal.dossiers.tabs import dossier_data
        merged = dossier_data(dossier, data)
        data["remuneration"] = [
            {k: row[k] for k in ("percent", "monthly_amount", "start", "end")}
            for row in merge_rows(schedule_for(merged), entered)]
        return data

    def store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.models import Contrat, PeriodeRemuneration
        for name in DOSSIER:
            if name in data:
                setattr(dossier, name, data[name])
        if dossier.contrat is None:
            dossier.contrat = Contrat()
        for name in CONTRAT:
            if name in data:
                value = data[name]
                setattr(dossier.contrat, name, bool(value) if name in FLAGS else value)
        from portal.dossiers.tabs import dossier_data
        merged = dossier_data(dossier, data)
        rows = merge_rows(schedule_for(merged), data.get("remuneration") or [])
        # Rows are updated in place by rank (a delete-then-insert would collide on the
        # unique (dossier, rang) within one flush); extra old rows go.
        existing = {p.rang: p for p in dossier.remunerations}
        for index, row in enumerate(rows, start=1):
            period = existing.pop(index, None)
            if period is None:
                period = PeriodeRemuneration(rang=index)
                dossier.remunerations.append(period)
            period.annee_contrat, period.date_debut = row["contract_year"], row["start"]
            period.date_fin, period.pourcentage = row["end"], row["percent"]
            period.base, period.montant_mensuel = row["base"], row["monthly_amount"]
            period.pourcentage_minimum = row["minimum_percent"]
            period.montant_minimum = row["minimum_amount"]
        for period in existing.values():
            dossier.remunerations.remove(period)

    # --- checks -------------------------------------------------------------------------------
    def required(self, data, dossier) -> set[str]:
        required = {"type_contrat", "mode_contractuel", "date_conclusion", "date_debut_contrat",
                    "date_debut_formation_pratique", "date_fin_contrat", "duree_hebdo_heures",
                    "caisse_retraite_complementaire"}
        if (data.get("type_contrat") or "") in AMENDMENTS:
            required |= {"numero_contrat_precedent", "date_effet_avenant"}
        return required

    def own_findings(self, data, dossier) -> list[Finding]:
        findings = []
        start, end = as_date(data.get("date_debut_contrat")), as_date(data.get("date_fin_contrat"))
        if start and end and end <= start:
            findings.append(Finding(ERROR, "date_fin_contrat",
                                    "La fin du contrat doit être postérieure à son début."))
        if start and end and not schedule_for(data) and not data.get("apprenti_date_naissance"):
            findings.append(Finding(INFO, "date_debut_contrat",
                                    "La grille de rémunération sera calculée dès que la date "
                                    "de naissance de l'alternant·e sera connue."))
        return findings

    # --- page ---------------------------------------------------------------------------------
    def sections(self, dossier, data) -> list[Section]:
        return [
            Section("Nature du contrat", ["type_contrat", "mode_contractuel", "type_derogation",
                                          "numero_contrat_precedent", "date_effet_avenant"]),
            Section("Dates", ["date_conclusion", "date_debut_contrat",
                              "date_debut_formation_pratique", "date_debut_formation_cfa",
                              "date_fin_contrat"]),
            Section("Temps de travail", ["duree_hebdo_heures", "duree_hebdo_minutes",
                                         "travail_risque"]),
            Section("Rémunération", ["salaire_minimum_conventionnel"], block_id="remuneration",
                    extra={"grid": True}),
            Section("Avantages en nature et retraite",
                    ["avantage_nourriture", "avantage_logement", "avantage_autre",
                     "caisse_retraite_complementaire"]),
            Section("Signature et dépôt du contrat",
                    ["lieu_signature", "attestation_pieces", "adhesion_assurance_chomage"],
                    block_id="signature"),
        ]

    def extra_context(self, dossier, data) -> dict[str, Any]:
        # Stored rows are shown recomputed; typed rows (a refused POST) are shown as typed.
        rows = merge_rows(schedule_for(data), data.get("remuneration") or [],
                          floor=request.method != "POST")
        formation = dossier.formation
        return {"grid_rows": rows, "formation": formation, "fmt_eur": eur,
                "fmt_percent": percent, "today": date.today(), "input_value": input_value}
