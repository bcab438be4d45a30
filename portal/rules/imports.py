"""Checks of an import file of apprentices (one row = one future dossier). Pure functions: no
database, no Flask. The service (portal.dossiers.imports) reads the file into raw rows, gives them
here with the dossiers its apprentices already have (in this training, and open elsewhere), and
gets back one RowCheck per row; `decide` then says what the confirmation does with each row.

Columns: Nom, Prénom, E-mail (required), Date de naissance, SIRET de l'employeur, E-mail du
contact employeur, Début du contrat, Fin du contrat (optional, checked when present). Headers
are matched whatever their case, accents, spaces or punctuation.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable, Mapping, Sequence

from . import ERROR, WARNING, Finding
from .contract import (MAX_MONTHS, MIN_MONTHS, ContractFacts, check_maximum_age,
                       check_minimum_age)
from .dates import add_months, months_and_days
from .formatting import day as fr_day
from .identifiers import normalize_email
from .import_cells import (_SCIENTIFIC, EXCEL_EPOCH, _BadDate, _siret_digits,  # noqa: F401
                           _valid_siret, cell_text, is_valid_email, parse_date)

# (key, header of the template, dossier field)
COLUMNS = (
    ("nom", "Nom", "apprenti_nom"),
    ("prenom", "Prénom", "apprenti_prenom"),
    ("email", "E-mail", "apprenti_email"),
    ("date_naissance", "Date de naissance", "apprenti_date_naissance"),
    ("siret", "SIRET de l'employeur", "employeur_siret"),
    ("contact_email", "E-mail du contact employeur", "employeur_contact_email"),
    ("debut", "Début du contrat", "date_debut_contrat"),
    ("fin", "Fin du contrat", "date_fin_contrat"),
)
KEYS = tuple(key for key, _, _ in COLUMNS)
LABELS = {key: label for key, label, _ in COLUMNS}
FIELDS = {key: name for key, _, name in COLUMNS}
REQUIRED = ("nom", "prenom", "email")
DATE_KEYS = ("date_naissance", "debut", "fin")
# Example row of the template files (example.com is reserved: no e-mail can reach anyone).
EXAMPLE = {"nom": "Martin", "prenom": "Léa", "email": "lea.martin@example.com",
           "date_naissance": "14/03/2005", "siret": "73282932000074",
           "contact_email": "", "debut": "01/09/2026",
           "fin": "31/08/2028"}
MAX_ROWS = 20_000  # data rows of one file (the worker creates them in batches)
MAX_LENGTHS = {"nom": 100, "prenom": 100, "email": 254, "contact_email": 254}

DUPLICATE_IN_TRAINING = "déjà un dossier dans cette formation"
CREATE_ANYWAY = "Créer quand même"

# What the confirmation does with a row (decide()).
CREATE, REFUSED, UNCONFIRMED = "create", "refused", "unconfirmed"


@dataclass(frozen=True)
class KnownDossier:
    """A dossier the apprentice of a row already has, as the manager is told about it."""

    number: int
    training: str      # label of its training, e.g. "Master Informatique (2026)"
    state: str         # French label of its state


def in_training_message(dossiers: Iterable[KnownDossier]) -> str:
    numbers = ", ".join(str(d.number) for d in dossiers)
    return f"L'alternant·e a {DUPLICATE_IN_TRAINING} (n° {numbers}) : aucun dossier ne sera créé."


def open_elsewhere_message(dossiers: Iterable[KnownDossier]) -> str:
    dossiers = list(dossiers)
    listed = " ; ".join(f"n° {d.number} en « {d.training} », état « {d.state} »"
                        for d in dossiers)
    word = "un dossier en cours" if len(dossiers) == 1 else "des dossiers en cours"
    return (f"L'alternant·e a déjà {word} dans une autre formation ({listed}). Cochez "
            f"« {CREATE_ANYWAY} » pour lui créer aussi un dossier dans celle-ci.")


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def normalise_header(text: Any) -> str:
    """'E-mail du contact employeur ' → 'emailducontactemployeur' (no case, accent, space or
    punctuation)."""
    text = str(text or "")
    if text.isascii():  # NFKD changes no ASCII character: the fast path of most cells
        return _NOT_ALNUM.sub("", text.lower())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NOT_ALNUM.sub("", text)


_ALIASES = {
    "nom": ("nom", "nomdenaissance", "nomdefamille", "nomapprenti", "nomdelapprenti",
            "nomalternant", "nomdelalternant"),
    "prenom": ("prenom", "prenoms", "prenomapprenti", "prenomdelapprenti", "prenomalternant",
               "prenomdelalternant"),
    "email": ("email", "mail", "courriel", "adresseemail", "adressemail", "adressecourriel",
              "emailapprenti", "emaildelapprenti", "emailalternant", "emaildelalternant",
              "emaildelalternante"),
    "date_naissance": ("datedenaissance", "datenaissance", "naissance", "nele", "nea"),
    "siret": ("siretdelemployeur", "siret", "siretemployeur", "siretdeletablissement",
              "siretdeletablissementemployeur", "siretdelentreprise"),
    "contact_email": ("emailducontactemployeur", "emailcontactemployeur", "contactemployeur",
                      "mailducontactemployeur", "courrielducontactemployeur",
                      "emaildelemployeur", "emailemployeur"),
    "debut": ("debutducontrat", "debutcontrat", "datededebutducontrat", "datedebutcontrat",
              "datededebut", "datedebut", "debut", "debutdexecutionducontrat"),
    "fin": ("finducontrat", "fincontrat", "datedefinducontrat", "datefincontrat",
            "datedefin", "datefin", "fin"),
}
HEADER_KEYS = {alias: key for key, aliases in _ALIASES.items() for alias in aliases}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message is French, for the user."""


@dataclass
class RowCheck:
    """One data row: its line in the file, what was typed (as text), the cleaned values keyed
    by dossier field, and the findings (errors refuse the row, warnings do not)."""

    line: int
    values: dict[str, str]
    clean: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Open dossiers of the apprentice in other trainings: the row is created only when the
    # manager confirms it ("Créer quand même").
    open_elsewhere: list[KnownDossier] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.open_elsewhere)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level != ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_fields(self) -> set[str]:
        return {f.field for f in self.errors}


# --- header -----------------------------------------------------------------------------------

def map_header(cells: Iterable[Any]) -> dict[int, str]:
    """Column index → column key. Unknown columns are ignored; a missing required column, or a
    column given twice, refuses the file."""
    mapping: dict[int, str] = {}
    for index, cell in enumerate(cells):
        key = HEADER_KEYS.get(normalise_header(cell))
        if key is None:
            continue
        if key in mapping.values():
            raise ImportFileError(f"La colonne « {LABELS[key]} » figure deux fois dans la "
                                  "première ligne du fichier.")
        mapping[index] = key
    missing = [LABELS[k] for k in REQUIRED if k not in mapping.values()]
    if missing:
        names = ", ".join(f"« {m} »" for m in missing)
        raise ImportFileError(
            ("Colonne obligatoire absente : " if len(missing) == 1 else
             "Colonnes obligatoires absentes : ") + names + ". La première ligne du fichier "
            "doit reprendre les en-têtes du modèle (Nom ; Prénom ; E-mail ; …) : "
            "téléchargez le modèle pour partir d'un fichier correct.")
    return mapping


# --- one row ----------------------------------------------------------------------------------

Known = Mapping[str, Sequence[KnownDossier]]


def check_row(line: int, raw: Mapping[str, Any], *, in_training: Known | None = None,
              elsewhere: Known | None = None, seen_emails: Mapping[str, int] | None = None,
              today: date | None = None) -> RowCheck:
    """Check one row. `in_training`: e-mail (lower case) → the dossiers it already has in this
    training (whatever their state); `elsewhere`: e-mail → its open dossiers in other
    trainings; `seen_emails`: e-mail → line of the rows above in the file."""
    in_training, elsewhere, seen_emails = in_training or {}, elsewhere or {}, seen_emails or {}
    row = RowCheck(line=line, values={key: cell_text(raw.get(key)) for key in KEYS})
    v = row.values
    add = row.findings.append

    def error(key: str, message: str) -> None:
        add(Finding(ERROR, FIELDS[key], message))

    # Required identity
    for key, message in (("nom", "Le nom est obligatoire."),
                         ("prenom", "Le prénom est obligatoire."),
                         ("email", "L'e-mail de l'alternant·e est obligatoire.")):
        if not v[key]:
            error(key, message)
    for key, limit in MAX_LENGTHS.items():
        if len(v[key]) > limit:
            error(key, f"{LABELS[key]} : {limit} caractères au maximum.")
    row.clean["apprenti_nom"] = v["nom"] or None
    row.clean["apprenti_prenom"] = v["prenom"] or None

    email = normalize_email(v["email"])
    if email:
        if not is_valid_email(email):
            error("email", f"L'adresse e-mail « {v['email']} » n'est pas valide.")
        elif in_training.get(email):
            error("email", in_training_message(in_training[email]))
        elif email in seen_emails:
            error("email", f"Ligne en double : même e-mail que la ligne {seen_emails[email]}.")
        elif elsewhere.get(email):
            row.open_elsewhere = list(elsewhere[email])
            add(Finding(WARNING, FIELDS["email"], open_elsewhere_message(row.open_elsewhere)))
    row.clean["apprenti_email"] = email or None

    contact = normalize_email(v["contact_email"])
    if contact:
        if not is_valid_email(contact):
            error("contact_email",
                  f"L'adresse e-mail du contact employeur « {v['contact_email']} » n'est pas "
                  "valide.")
        elif contact == email:
            error("contact_email", "L'e-mail du contact employeur doit être différent de "
                                   "celui de l'alternant·e.")
    row.clean["employeur_contact_email"] = contact or None

    # Employer SIRET (optional)
    siret = None
    if v["siret"]:
        if _SCIENTIFIC.match(v["siret"]):
            error("siret", f"Le SIRET « {v['siret']} » a été converti en nombre par le tableur "
                           "(notation scientifique) : mettez la colonne au format Texte, "
                           "retapez les SIRET puis enregistrez à nouveau le fichier.")
        else:
            digits = _siret_digits(raw.get("siret"))
            if not (len(digits) == 14 and digits.isdigit() and _valid_siret(digits)):
                error("siret", f"Le SIRET « {v['siret']} » n'est pas valide : 14 chiffres dont "
                               "le dernier est une clé de contrôle.")
            else:
                siret = digits
    row.clean["employeur_siret"] = siret

    # Dates
    dates: dict[str, date | None] = {}
    for key in DATE_KEYS:
        try:
            dates[key] = parse_date(raw.get(key))
        except _BadDate:
            dates[key] = None
            error(key, f"{LABELS[key]} : « {v[key]} » n'est pas une date valide "
                       "(attendu JJ/MM/AAAA, par exemple 01/09/2026).")
        else:
            if dates[key] is not None and not 1900 <= dates[key].year <= 2100:
                error(key, f"{LABELS[key]} : l'année {dates[key].year} n'est pas plausible.")
                dates[key] = None
    birth, start, end = dates["date_naissance"], dates["debut"], dates["fin"]
    if birth and today and birth >= today:
        error("date_naissance",
              f"La date de naissance ({fr_day(birth)}) ne peut pas être dans le futur.")
        birth = None
    row.clean["apprenti_date_naissance"] = birth
    row.clean["date_debut_contrat"] = start
    row.clean["date_fin_contrat"] = end

    row.findings.extend(_contract_findings(birth, start, end))
    return row


@functools.lru_cache(maxsize=4096)
def _contract_findings(birth: date | None, start: date | None, end: date | None
                       ) -> tuple[Finding, ...]:
    """The findings of a row's dates (age at the start, contract length): pure, so computed
    once per distinct (birth, start, end) of a file — most rows share their contract dates."""
    found: list[Finding] = []
    add = found.append

    def error(key: str, message: str) -> None:
        add(Finding(ERROR, FIELDS[key], message))

    facts = ContractFacts(birth_date=birth, start=start, end=end)
    # C1: under 15 at the start is refused. At 15 the dérogation and the collège are asked
    # for later on the dossier: nothing to say here.
    found.extend(f for f in check_minimum_age(facts) if f.field == "apprenti_date_naissance")
    # C2: over 29 may be allowed (RQTH, athlete, business project, previous contract): the
    # import cannot know, so it only warns.
    found.extend(Finding(WARNING, f.field, f.message) for f in check_maximum_age(facts)
                        if f.field == "apprenti_date_naissance")
    if start and end:
        if end <= start:
            error("fin", f"La date de fin du contrat ({fr_day(end)}) doit être postérieure à "
                         f"la date de début d'exécution ({fr_day(start)}).")
        else:
            # 6 months to 3 years, longer with a dérogation the import cannot know: a warning.
            months, days = months_and_days(start, end)
            if end < add_months(start, MIN_MONTHS) - timedelta(days=1):
                add(Finding(WARNING, FIELDS["fin"],
                            f"Le contrat dure {months} mois"
                            f"{f' et {days} jour' + ('s' if days > 1 else '') if days else ''}"
                            f" : la durée minimale est de {MIN_MONTHS} mois."))
            elif end > add_months(start, MAX_MONTHS) - timedelta(days=1):
                add(Finding(WARNING, FIELDS["fin"],
                            f"Le contrat dure plus de {MAX_MONTHS // 12} ans : c'est la durée "
                            "maximale, sauf dérogation (à indiquer sur le dossier)."))
    return tuple(found)


def check_rows(rows: Iterable[tuple[int, Mapping[str, Any]]], *,
               in_training: Known | None = None, elsewhere: Known | None = None,
               today: date | None = None) -> list[RowCheck]:
    """Check every (line, raw values) row; the second row with an e-mail already seen above is
    refused as a duplicate (pointing to the first line)."""
    in_training = {normalize_email(k): v for k, v in (in_training or {}).items() if k}
    elsewhere = {normalize_email(k): v for k, v in (elsewhere or {}).items() if k}
    seen: dict[str, int] = {}
    results = []
    for line, raw in rows:
        result = check_row(line, raw, in_training=in_training, elsewhere=elsewhere,
                           seen_emails=seen, today=today)
        email = result.clean.get("apprenti_email")
        if email and email not in seen:
            seen[email] = line
        results.append(result)
    return results


def is_blank(raw: Mapping[str, Any]) -> bool:
    return all(cell_text(value) == "" for value in raw.values())
