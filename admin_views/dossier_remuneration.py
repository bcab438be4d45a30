"""The legal minimum grid of a dossier as JSON, for Le contrat's page script. Scoped through
DossierView.get_one; computed by portal.rules.remuneration from the dossier's data with the
dates (and SMC) being typed."""
from __future__ import annotations

from datetime import date

from flask import abort, jsonify, request

from flask_admin import expose
from portal.dossiers import tabs
from portal.rules.formatting import day as fr_day
from portal.dossiers.tabs.base import to_decimal
from portal.dossiers.tabs.contract_tab import schedule_for


def _date(value):
    try:
        parsed = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return parsed if date(1900, 1, 1) <= parsed <= date(2100, 12, 31) else None


def _plain(value) -> str:
    """43.00 → "43", 51.50 → "51.5" (whatever the reference table's scale)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class DossierRemunerationMixin:

    @expose("/<int:dossier_id>/remuneration-minimum/", methods=("GET",))
    def remuneration_minimum_view(self, dossier_id):
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        start, end = _date(request.args.get("start")), _date(request.args.get("end"))
        if start is None or end is None:
            return jsonify(message="Dates invalides : utilisez le format AAAA-MM-JJ."), 400
        if end <= start:
            return jsonify(message="La fin du contrat doit être postérieure à son début."), 400
        smc = to_decimal(request.args.get("smc"))
        if smc is not None and (not smc.is_finite() or smc < 0 or smc > 1_000_000):
            return jsonify(message="Salaire minimum conventionnel invalide."), 400
        data = tabs.dossier_data(dossier, {"date_debut_contrat": start, "date_fin_contrat": end,
                                           "salaire_minimum_conventionnel": smc})
        periods = schedule_for(data)
        if not periods:
            return jsonify(periods=[], message="Renseignez la date de naissance de "
                                               "l'alternant·e pour obtenir la grille.")
        return jsonify(periods=[{
            "start": p.start.isoformat(), "end": p.end.isoformat(),
            "contract_year": p.contract_year, "percent": _plain(p.percent), "base": p.base,
            "monthly_amount": str(p.monthly_amount), "age_band": p.age_band_label,
            "reference_monthly": str(p.reference_monthly)} for p in periods],
            message=f"Grille recalculée du {fr_day(start)} au {fr_day(end)}.")
