"""The training form's identifier validators: check C19 (portal.rules.training_identifiers),
each message shown next to its field."""
from __future__ import annotations

from wtforms.validators import ValidationError

from portal.rules.training_identifiers import normalise_code, training_identifier_findings


def code_filter(value):
    """A typed code normalised before the checks run (so 'rncp 38362', 9 characters with the
    space, fits the 9-character column as 'RNCP38362'); empty stays as posted."""
    return normalise_code(value) if isinstance(value, str) and value.strip() else value


class TrainingIdentifier:
    """C19 on one field of the training's form.

    `kind` is "cfa" or "etablissement_formation" (a row chosen in a list: its stored UAI is
    checked; nothing chosen, nothing checked) or "code_diplome" / "code_rncp" (the typed code,
    normalised by `code_filter`: no spaces, upper case)."""

    def __init__(self, kind: str):
        if kind not in ("cfa", "etablissement_formation", "code_diplome", "code_rncp"):
            raise ValueError(f"unknown training identifier: {kind!r}")
        self.kind = kind

    def __call__(self, form, field):
        if self.kind in ("cfa", "etablissement_formation"):
            chosen = field.data
            if chosen is None:
                return
            prefix = "cfa" if self.kind == "cfa" else "site"
            name = getattr(chosen, "nom", None)
            findings = training_identifier_findings(**{f"{prefix}_uai": chosen.uai,
                                                       f"{prefix}_name": name})
        else:
            findings = training_identifier_findings(**{self.kind: field.data})
        if findings:
            raise ValidationError(findings[0].message)
