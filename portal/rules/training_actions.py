"""The training actions offered by the CFA to its partners' staff (SPEC §6, seed 003): who may
request a session, whom the organiser may retain, the half-days of a session, the attendance
and the hours it certifies, the waiting list, and the calendar invitation sent with the
convocation. Pure: plain values in, French messages out.

The limits (5 actions a year per person, 2 people of one structure per session) are the CFA's
own rules, kept as data (RegleInscription) and passed in; the attestation states the duration
actually followed (Code du travail, art. L6353-1: attestation mentioning the objectives, the
nature and the duration of the action)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from .formatting import day as fr_day

MORNING, AFTERNOON = "matin", "apres_midi"
# A session starting at noon or later has no morning on its first day; one ending at 13:30 or
# earlier has no afternoon on its last day.
AFTERNOON_START = time(12, 0)
MORNING_END = time(13, 30)
HALF_HOUR = Decimal("0.5")
# A session lasts a year at most: beyond, its end is a typo (2207 for 2027) whose attendance
# sheet would list thousands of half-days.
MAX_SESSION_DAYS = 366


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def session_problems(*, start: date | None, end: date | None, start_time: time | None,
                     end_time: time | None, deadline: date | None, capacity: int | None,
                     retained: int = 0) -> dict[str, str]:
    """The session form's checks across fields: field → French message (empty when fine);
    `retained`: the people already retained, below which the capacity may not go. A session
    lasts ``MAX_SESSION_DAYS`` at most and must hold a half-day its attendance is taken on
    (``half_days``: weekdays only)."""
    problems = {}
    if start and end and end < start:
        problems["date_fin"] = "La fin de la session ne peut pas précéder son début."
    elif start and end and (end - start).days > MAX_SESSION_DAYS:
        problems["date_fin"] = ("Une session dure au plus un an : vérifiez l'année de la date "
                                "de fin.")
    if start and deadline and deadline > start:
        problems["date_limite_inscription"] = ("La date limite d'inscription doit être au "
                                               "plus tard le premier jour de la session.")
    if start_time and end_time and start == end and end_time <= start_time:
        problems["heure_fin"] = "L'heure de fin doit suivre l'heure de début."
    if start and end and not problems.get("date_fin") and not problems.get("heure_fin") \
            and not half_days(start, end, start_time, end_time):
        problems["date_debut"] = ("Cette session ne compte aucune demi-journée du lundi au "
                                  "vendredi : les présences ne pourraient pas être relevées.")
    if capacity is not None and capacity < retained:
        problems["capacite"] = (f"{retained} personnes sont déjà retenues : la capacité ne "
                                "peut pas être inférieure.")
    return problems


def request_refusal(*, today: date, session_start: date, session_end: date,
                    deadline: date | None, session_cancelled: bool, action_active: bool,
                    reserved_to_members: bool, structure_is_member: bool, is_beneficiary: bool,
                    already_requested: bool, actions_this_year: int,
                    max_actions_per_year: int) -> str | None:
    """Why this person may not request this session on ``today`` (French), None when they may.

    ``actions_this_year``: the person's requests of the calendar year of ``session_start``
    that still count (not refused, cancelled or not retained). The checks come in this order:
    the beneficiary right, the action and the session still offered, the session not started,
    the deadline (its day included), the members-only actions, one request per session, the
    yearly limit (SPEC §6)."""
    when = fr_day(session_start)
    if not is_beneficiary:
        return ("Vous n'avez pas le droit de demander une formation pour cette structure : "
                "demandez-le à son référent.")
    if not action_active:
        return (f"Cette action de formation n'est plus proposée : la session du {when} ne "
                "peut plus être demandée.")
    if session_cancelled:
        return f"La session du {when} est annulée : elle ne peut plus être demandée."
    if today >= session_start:
        if today > session_end:
            return (f"La session s'est tenue du {when} au {fr_day(session_end)} : elle ne peut "
                    "plus être demandée.")
        return f"La session a commencé le {when} : elle ne peut plus être demandée."
    if deadline is not None and today > deadline:
        return (f"La date limite d'inscription à la session du {when} était le "
                f"{fr_day(deadline)} : les demandes sont closes.")
    if reserved_to_members and not structure_is_member:
        return (f"La session du {when} est réservée aux structures adhérentes : votre "
                "structure n'est pas adhérente.")
    if already_requested:
        return (f"Vous avez déjà demandé la session du {when} : une seule demande par personne "
                "et par session.")
    if actions_this_year >= max_actions_per_year:
        return (f"Vous avez déjà {_plural(actions_this_year, 'demande', 'demandes')} de "
                f"formation en {session_start.year} : au plus {max_actions_per_year} par "
                "personne et par année civile.")
    return None


def structure_over_quota(*, retained_of_structure: int, max_per_structure: int) -> bool:
    """True when retaining one more person of this structure would exceed the limit (SPEC §6:
    at most 2 people of one structure per session, the next ones wait)."""
    return retained_of_structure + 1 > max_per_structure


def selection_refusal(*, capacity: int, retained: int, retained_of_structure: int,
                      max_per_structure: int) -> str | None:
    """Why the organiser cannot retain one more person in the session (its capacity first,
    then the structure's quota), None when they can."""
    if retained >= capacity:
        return f"La session est complète ({_plural(capacity, 'place', 'places')})."
    if structure_over_quota(retained_of_structure=retained_of_structure,
                            max_per_structure=max_per_structure):
        if retained_of_structure == 1:
            already = "1 personne de cette structure est déjà retenue"
        else:
            already = f"{retained_of_structure} personnes de cette structure sont déjà retenues"
        return f"{already} : les suivantes vont en liste d'attente."
    return None


def half_days(start: date, end: date, start_time: time | None,
              end_time: time | None) -> list[tuple[date, str]]:
    """The half-days of a session, (day, "matin" | "apres_midi"), from ``start`` to ``end``
    except Saturdays and Sundays. No morning on the first day when the session starts at
    12:00 or later, no afternoon on the last day when it ends at 13:30 or earlier; no times:
    whole days."""
    if end < start:
        raise ValueError(f"La fin de la session ({fr_day(end)}) précède son début "
                         f"({fr_day(start)}).")
    result: list[tuple[date, str]] = []
    for offset in range((end - start).days + 1):  # never a day past ``end`` (date.max)
        current = start + timedelta(days=offset)
        if current.weekday() < 5:
            if not (current == start and start_time is not None
                    and start_time >= AFTERNOON_START):
                result.append((current, MORNING))
            if not (current == end and end_time is not None and end_time <= MORNING_END):
                result.append((current, AFTERNOON))
    return result


def attendance_outcome(marks: dict[tuple[date, str], bool],
                       expected: list[tuple[date, str]]) -> tuple[str, int, int]:
    """("presente" | "absente", half-days present, half-days expected): present at one
    half-day at least is "presente". A half-day without a mark counts as absent; marks outside
    ``expected`` are ignored."""
    present = sum(1 for half_day in expected if marks.get(half_day) is True)
    return ("presente" if present >= 1 else "absente", present, len(expected))


def attended_hours(present_half_days: int, expected_half_days: int,
                   duration_hours) -> Decimal:
    """The hours followed: the action's duration × present / expected half-days, rounded to
    the half-hour (half up); 0 when no half-day is expected or the duration is unknown."""
    if present_half_days < 0 or present_half_days > max(expected_half_days, 0):
        raise ValueError(f"Demi-journées présentes ({present_half_days}) hors de 0 à "
                         f"{expected_half_days}.")
    if expected_half_days <= 0 or duration_hours is None:
        return Decimal("0.0")
    hours = Decimal(str(duration_hours)) * present_half_days / expected_half_days
    halves = (hours / HALF_HOUR).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (halves * HALF_HOUR).quantize(Decimal("0.1"))


def waiting_list_next(candidates: list[tuple[int, int | None, datetime]]) -> int | None:
    """Among (request id, waiting rank or None, created at) of the waiting list, the one that
    moves up: the lowest rank first (unranked ones last), then the oldest request, then the
    smallest id; None when the list is empty."""
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (c[1] is None, c[1] or 0, c[2], c[0]))
    return best[0]


# ---- The calendar invitation (RFC 5545 iCalendar, METHOD:REQUEST of RFC 5546) ----

PRODID = "-//Sillon//Actions de formation//FR"
TZID = "Europe/Paris"
PARIS = ZoneInfo(TZID)
VTIMEZONE = (
    "BEGIN:VTIMEZONE", f"TZID:{TZID}",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
    "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
    "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
)
LINE_OCTETS = 75
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EMAIL = re.compile(r"[^\s;:,\"<>\\()\[\]]+@[^\s;:,\"<>\\()\[\]@]+")


def ics_escape(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma escaped, line breaks as
    \\n, other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = CONTROL.sub("", value.replace("\t", " "))
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def ics_fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 §3.1): continuation lines start with a
    space, a UTF-8 character is never split; CRLF after each physical line."""
    pieces, current, size = [], "", 0
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > LINE_OCTETS:
            pieces.append(current)
            current, size = " ", 1
        current += char
        size += octets
    pieces.append(current)
    return "".join(piece + "\r\n" for piece in pieces)


def _local(value: datetime) -> str:
    """Paris local time, floating form with TZID (naive values are Paris times)."""
    if value.tzinfo is not None:
        value = value.astimezone(PARIS).replace(tzinfo=None)
    return value.strftime("%Y%m%dT%H%M%S")


def _utc(value: datetime) -> str:
    """UTC form (naive values are UTC, as the database stores them)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y%m%dT%H%M%SZ")


def _mailto(email: str) -> str:
    email = email.strip()
    if not EMAIL.fullmatch(email):
        raise ValueError(f"Adresse électronique invalide pour l'invitation : {email!r}.")
    return f"mailto:{email}"


def ics_event(*, uid: str, start: datetime, end: datetime, summary: str, location: str | None,
              description: str | None, organizer_email: str | None,
              attendee_email: str | None, stamp: datetime, sequence: int = 0) -> str:
    """An iCalendar invitation (VCALENDAR, METHOD:REQUEST) with one VEVENT for a session:
    times in Europe/Paris (VTIMEZONE included), text values escaped, lines folded, CRLF.
    `sequence` counts the invitations sent before for the same UID: a calendar applies a
    re-sent one (new times, new place) only when it is higher (RFC 5546, 2.1.4)."""
    if end <= start:
        raise ValueError("La fin de l'événement doit suivre son début.")
    if sequence < 0:
        raise ValueError("Numéro de séquence négatif.")
    event = [
        "BEGIN:VEVENT", f"UID:{ics_escape(uid)}", f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART;TZID={TZID}:{_local(start)}", f"DTEND;TZID={TZID}:{_local(end)}",
        f"SEQUENCE:{sequence}", "STATUS:CONFIRMED", f"SUMMARY:{ics_escape(summary)}",
    ]
    if location:
        event.append(f"LOCATION:{ics_escape(location)}")
    if description:
        event.append(f"DESCRIPTION:{ics_escape(description)}")
    if organizer_email:
        event.append(f"ORGANIZER:{_mailto(organizer_email)}")
    if attendee_email:
        event.append(f"ATTENDEE;RSVP=FALSE:{_mailto(attendee_email)}")
    event.append("END:VEVENT")
    lines = ["BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN",
             "METHOD:REQUEST", *VTIMEZONE, *event, "END:VCALENDAR"]
    return "".join(ics_fold(line) for line in lines)
