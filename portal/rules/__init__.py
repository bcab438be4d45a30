"""Pure business rules, free of Flask: identifiers, dates, remuneration, contract checks, aids.

Each check returns findings (level, field, French message)."""
from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str
    field: str
    message: str
