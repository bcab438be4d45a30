"""Pure business rules, free of Flask: identifiers, dates, remuneration, contract checks, aids.

Each check returns findings (level, field, French message)."""
from dataclasses import dataclass
from typing import Iterable

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str
    field: str
    message: str


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when at least one finding is an error."""
    return any(f.level == ERROR for f in findings)


def by_field(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by field, in their original order (for forms)."""
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.field, []).append(finding)
    return grouped
