"""portal.rules.training_actions: requests, selection, half-days, attendance, hours, waiting
list and the calendar invitation of the training actions (SPEC §6). Pure."""
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from portal.rules.training_actions import (attendance_outcome, attended_hours, half_days,
                                           ics_event, request_refusal, selection_refusal,
                                           structure_over_quota, waiting_list_next)

D = date.fromisoformat
START, END = D("2027-03-15"), D("2027-03-16")   # Monday, Tuesday

# A request that passes every check; each case below changes what it names.
OK = dict(today=D("2027-03-01"), session_start=START, session_end=END, deadline=D("2027-03-05"),
          session_cancelled=False, action_active=True, reserved_to_members=True,
          structure_is_member=True, is_beneficiary=True, already_requested=False,
          actions_this_year=4, max_actions_per_year=5)

NOT_BENEFICIARY = ("Vous n'avez pas le droit de demander une formation pour cette structure : "
                   "demandez-le à son référent.")
INACTIVE = ("Cette action de formation n'est plus proposée : la session du 15/03/2027 ne peut "
            "plus être demandée.")
CANCELLED = "La session du 15/03/2027 est annulée : elle ne peut plus être demandée."
STARTED = "La session a commencé le 15/03/2027 : elle ne peut plus être demandée."
OVER = ("La session s'est tenue du 15/03/2027 au 16/03/2027 : elle ne peut plus être "
        "demandée.")
DEADLINE = ("La date limite d'inscription à la session du 15/03/2027 était le 05/03/2027 : "
            "les demandes sont closes.")
MEMBERS = ("La session du 15/03/2027 est réservée aux structures adhérentes : votre structure "
           "n'est pas adhérente.")
ALREADY = ("Vous avez déjà demandé la session du 15/03/2027 : une seule demande par personne "
           "et par session.")
YEAR_5 = ("Vous avez déjà 5 demandes de formation en 2027 : au plus 5 par personne et par "
          "année civile.")
YEAR_1 = ("Vous avez déjà 1 demande de formation en 2027 : au plus 1 par personne et par "
          "année civile.")


@pytest.mark.parametrize("changes, expected", [
    ({}, None),
    ({"is_beneficiary": False}, NOT_BENEFICIARY),
    ({"action_active": False}, INACTIVE),
    ({"session_cancelled": True}, CANCELLED),
    ({"today": D("2027-03-14"), "deadline": None}, None),
    ({"today": D("2027-03-15"), "deadline": None}, STARTED),
    ({"today": D("2027-03-16"), "deadline": None}, STARTED),
    ({"today": D("2027-03-17"), "deadline": None}, OVER),
    ({"today": D("2027-03-05")}, None),
    ({"today": D("2027-03-06")}, DEADLINE),
    ({"structure_is_member": False}, MEMBERS),
    ({"structure_is_member": False, "reserved_to_members": False}, None),
    ({"already_requested": True}, ALREADY),
    ({"actions_this_year": 5}, YEAR_5),
    ({"actions_this_year": 0, "max_actions_per_year": 1}, None),
    ({"actions_this_year": 1, "max_actions_per_year": 1}, YEAR_1),
], ids=["allowed", "not_beneficiary", "action_inactive", "session_cancelled",
        "day_before_start", "start_day", "during", "after_end", "deadline_day",
        "day_after_deadline", "not_member", "open_to_all", "already_requested",
        "year_at_max", "year_max1_below", "year_max1_at"])
def test_request_refusal_each_branch(changes, expected):
    assert request_refusal(**{**OK, **changes}) == expected


# Every check failing at once, then lifted one by one: the first remaining one answers.
ALL_WRONG = dict(is_beneficiary=False, action_active=False, session_cancelled=True,
                 today=D("2027-03-15"), structure_is_member=False, already_requested=True,
                 actions_this_year=5)
LIFT = dict(is_beneficiary=True, action_active=True, session_cancelled=False,
            today=D("2027-03-06"), structure_is_member=True, already_requested=False,
            actions_this_year=4)
ORDER = ["is_beneficiary", "action_active", "session_cancelled", "today", "today_deadline",
         "structure_is_member", "already_requested", "actions_this_year"]


@pytest.mark.parametrize("lifted, expected", [
    (0, NOT_BENEFICIARY), (1, INACTIVE), (2, CANCELLED), (3, STARTED), (4, DEADLINE),
    (5, MEMBERS), (6, ALREADY), (7, YEAR_5), (8, None),
], ids=["beneficiary_first", "then_active", "then_cancelled", "then_started",
        "then_deadline", "then_members", "then_already", "then_year", "none_left"])
def test_request_refusal_order(lifted, expected):
    values = {**OK, **ALL_WRONG}
    for name in ORDER[:lifted]:
        if name == "today_deadline":
            values["today"] = D("2027-03-01")
        else:
            values[name] = LIFT[name]
    assert request_refusal(**values) == expected


@pytest.mark.parametrize("retained_of_structure, maximum, expected", [
    (0, 2, False), (1, 2, False), (2, 2, True), (3, 2, True), (0, 1, False), (1, 1, True),
    (0, 0, True),
])
def test_structure_over_quota(retained_of_structure, maximum, expected):
    assert structure_over_quota(retained_of_structure=retained_of_structure,
                                max_per_structure=maximum) is expected


FULL_12 = "La session est complète (12 places)."
QUOTA_2 = ("2 personnes de cette structure sont déjà retenues : les suivantes vont en liste "
           "d'attente.")


@pytest.mark.parametrize("capacity, retained, of_structure, maximum, expected", [
    (12, 0, 0, 2, None),
    (12, 11, 1, 2, None),
    (12, 12, 0, 2, FULL_12),
    (12, 13, 0, 2, FULL_12),
    (12, 12, 2, 2, FULL_12),        # full comes before the quota
    (12, 5, 2, 2, QUOTA_2),
    (12, 5, 3, 2, "3 personnes de cette structure sont déjà retenues : les suivantes vont en "
                  "liste d'attente."),
    (12, 5, 1, 1, "1 personne de cette structure est déjà retenue : les suivantes vont en "
                  "liste d'attente."),
    (1, 1, 0, 2, "La session est complète (1 place)."),
], ids=["empty", "last_place", "full", "over_full", "full_before_quota", "quota",
        "over_quota", "quota_of_one", "one_place"])
def test_selection_refusal(capacity, retained, of_structure, maximum, expected):
    assert selection_refusal(capacity=capacity, retained=retained,
                             retained_of_structure=of_structure,
                             max_per_structure=maximum) == expected


M, A = "matin", "apres_midi"
T = time.fromisoformat


@pytest.mark.parametrize("start, end, start_time, end_time, expected", [
    ("2027-03-15", "2027-03-15", None, None, [("2027-03-15", M), ("2027-03-15", A)]),
    ("2027-03-15", "2027-03-15", "09:00", "17:00", [("2027-03-15", M), ("2027-03-15", A)]),
    ("2027-03-15", "2027-03-15", "11:59", "13:31", [("2027-03-15", M), ("2027-03-15", A)]),
    ("2027-03-15", "2027-03-15", "12:00", "17:00", [("2027-03-15", A)]),
    ("2027-03-15", "2027-03-15", "09:00", "13:30", [("2027-03-15", M)]),
    ("2027-03-15", "2027-03-15", "09:00", "12:00", [("2027-03-15", M)]),
    ("2027-03-15", "2027-03-15", "14:00", "13:00", []),
    ("2027-03-12", "2027-03-15", None, None,        # Friday to Monday: the weekend skipped
     [("2027-03-12", M), ("2027-03-12", A), ("2027-03-15", M), ("2027-03-15", A)]),
    ("2027-03-15", "2027-03-16", "13:30", "12:30",  # only the first / last day lose a half
     [("2027-03-15", A), ("2027-03-16", M)]),
    ("2027-03-13", "2027-03-14", None, None, []),   # Saturday and Sunday
    ("2027-03-13", "2027-03-15", "14:00", "17:00",  # starts on a Saturday: Monday whole
     [("2027-03-15", M), ("2027-03-15", A)]),
    ("9999-12-30", "9999-12-31", None, None,        # the last day a date can hold, a Friday
     [("9999-12-30", M), ("9999-12-30", A), ("9999-12-31", M), ("9999-12-31", A)]),
], ids=["whole_day", "usual_hours", "just_around_noon", "starts_at_noon", "ends_1330",
        "ends_noon", "afternoon_to_morning", "over_weekend", "two_days_halves", "weekend",
        "saturday_start", "last_representable_day"])
def test_half_days(start, end, start_time, end_time, expected):
    got = half_days(D(start), D(end), start_time and T(start_time), end_time and T(end_time))
    assert got == [(D(d), half) for d, half in expected]


def test_half_days_end_before_start():
    with pytest.raises(ValueError, match=r"La fin de la session \(14/03/2027\) précède son "
                                         r"début \(15/03/2027\)\."):
        half_days(D("2027-03-15"), D("2027-03-14"), None, None)


EXPECTED = [(D("2027-03-15"), M), (D("2027-03-15"), A), (D("2027-03-16"), M)]


@pytest.mark.parametrize("marks, expected", [
    ({}, ("absente", 0, 3)),
    ({EXPECTED[0]: False, EXPECTED[1]: False, EXPECTED[2]: False}, ("absente", 0, 3)),
    ({EXPECTED[1]: True}, ("presente", 1, 3)),
    ({EXPECTED[0]: True, EXPECTED[1]: False, EXPECTED[2]: True}, ("presente", 2, 3)),
    ({k: True for k in EXPECTED}, ("presente", 3, 3)),
    ({(D("2027-03-16"), A): True}, ("absente", 0, 3)),   # a mark outside the session
], ids=["no_marks", "all_absent", "one_half_day", "two_of_three", "all_present",
        "mark_not_expected"])
def test_attendance_outcome(marks, expected):
    assert attendance_outcome(marks, EXPECTED) == expected


def test_attendance_outcome_nothing_expected():
    assert attendance_outcome({}, []) == ("absente", 0, 0)


@pytest.mark.parametrize("present, expected_half_days, duration, hours", [
    (4, 4, Decimal("14"), "14"),
    (3, 4, Decimal("14"), "10.5"),
    (1, 4, Decimal("14"), "3.5"),
    (1, 3, Decimal("7"), "2.5"),       # 2.333… → 2.5
    (1, 6, Decimal("7"), "1"),         # 1.1666… → 1.0
    (1, 4, Decimal("3"), "1"),         # 0.75 exactly half way → up to 1.0
    (1, 4, Decimal("1"), "0.5"),       # 0.25 half way → up to 0.5
    (1, 8, Decimal("1.75"), "0"),      # 0.21875 → 0.0
    (0, 4, Decimal("14"), "0"),
    (0, 0, Decimal("14"), "0"),
    (2, 2, 7, "7"),
    (1, 2, 3.5, "2"),                  # 1.75 half way → up to 2.0
    (1, 2, None, "0"),
], ids=["all", "three_quarters", "quarter", "third_up", "sixth_down", "half_up_whole",
        "half_up_half", "tiny", "none_present", "none_expected", "int_duration",
        "float_duration", "unknown_duration"])
def test_attended_hours(present, expected_half_days, duration, hours):
    got = attended_hours(present, expected_half_days, duration)
    assert isinstance(got, Decimal) and got == Decimal(hours)


@pytest.mark.parametrize("present, expected_half_days", [(5, 4), (-1, 4), (1, 0)])
def test_attended_hours_impossible_counts(present, expected_half_days):
    with pytest.raises(ValueError):
        attended_hours(present, expected_half_days, Decimal("14"))


AT = datetime(2027, 2, 1, 10, 0)


@pytest.mark.parametrize("candidates, expected", [
    ([], None),
    ([(7, None, AT)], 7),
    ([(1, 3, AT), (2, 1, AT + timedelta(days=2)), (3, 2, AT - timedelta(days=1))], 2),
    ([(1, None, AT - timedelta(days=5)), (2, 4, AT)], 2),          # ranked before unranked
    ([(1, None, AT), (2, None, AT - timedelta(minutes=1))], 2),    # then the oldest
    ([(5, 1, AT), (4, 1, AT + timedelta(seconds=1))], 5),           # same rank: the oldest
    ([(9, 0, AT), (8, 1, AT - timedelta(days=3))], 9),              # rank 0 is a rank
    ([(6, 2, AT), (3, 2, AT)], 3),                                  # full tie: smallest id
], ids=["empty", "alone", "lowest_rank", "ranked_first", "oldest_unranked",
        "same_rank_oldest", "rank_zero", "full_tie"])
def test_waiting_list_next(candidates, expected):
    assert waiting_list_next(candidates) == expected


# ---- The calendar invitation: a strict reader of RFC 5545 (icalendar is not installed) ----

def unfold(text: str) -> list[str]:
    """Check the physical lines (CRLF only, ≤ 75 octets, UTF-8 whole) and unfold them."""
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    physical = raw[:-2].split(b"\r\n")
    for line in physical:
        assert b"\r" not in line and b"\n" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")   # a split multi-byte character raises here
    logical: list[str] = []
    for line in physical:
        if line[:1] in (b" ", b"\t"):
            assert logical, "a continuation line cannot come first"
            logical[-1] += line[1:].decode("utf-8")
        else:
            logical.append(line.decode("utf-8"))
    return logical


def unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars)
            assert nxt in "\\;,nN", f"bad escape \\{nxt}"
            out.append("\n" if nxt in "nN" else nxt)
        else:
            assert char not in ";,", f"unescaped {char!r} in {value!r}"
            out.append(char)
    return "".join(out)


PROPERTY = re.compile(r"^([A-Z][A-Z0-9-]*)((?:;[A-Z-]+=[^;:]+)*):(.*)$")


def parse(text: str) -> dict:
    """{component path: [(name, params, value)]}, with BEGIN/END balanced."""
    stack: list[str] = []
    found: dict[str, list] = {}
    for line in unfold(text):
        match = PROPERTY.match(line)
        assert match, f"not a content line: {line!r}"
        name, params, value = match.groups()
        if name == "BEGIN":
            stack.append(value)
            found.setdefault("/".join(stack), [])
        elif name == "END":
            assert stack and stack.pop() == value, f"unbalanced END:{value}"
        else:
            assert stack, f"{name} outside any component"
            found["/".join(stack)].append((name, params, value))
    assert not stack, f"unclosed {stack}"
    return found


def props(found: dict, path: str) -> dict:
    return {name: (params, value) for name, params, value in found[path]}


INVITE = dict(uid="inscription-42@sillon.example", start=datetime(2027, 3, 15, 9, 0),
              end=datetime(2027, 3, 16, 17, 30),
              summary="Maître d'apprentissage : accueillir, former, évaluer",
              location="CFA Sillon, salle 2; bâtiment B, Nantes",
              description="Convocation.\nApportez le livret d'apprentissage\\contrat.",
              organizer_email="formation@cfa.example", attendee_email="m.durand@acme.example",
              stamp=datetime(2027, 3, 1, 8, 30, 5))


def test_ics_event_parses_with_everything():
    found = parse(ics_event(**INVITE))
    assert set(found) == {"VCALENDAR", "VCALENDAR/VTIMEZONE", "VCALENDAR/VTIMEZONE/DAYLIGHT",
                          "VCALENDAR/VTIMEZONE/STANDARD", "VCALENDAR/VEVENT"}
    cal = props(found, "VCALENDAR")
    assert cal["PRODID"] == ("", "-//Sillon//Actions de formation//FR")
    assert cal["VERSION"] == ("", "2.0") and cal["METHOD"] == ("", "REQUEST")
    event = props(found, "VCALENDAR/VEVENT")
    assert event["UID"] == ("", "inscription-42@sillon.example")
    assert event["DTSTAMP"] == ("", "20270301T083005Z")
    assert event["DTSTART"] == (";TZID=Europe/Paris", "20270315T090000")
    assert event["DTEND"] == (";TZID=Europe/Paris", "20270316T173000")
    assert unescape(event["SUMMARY"][1]) == INVITE["summary"]
    assert event["LOCATION"][1] == "CFA Sillon\\, salle 2\\; bâtiment B\\, Nantes"
    assert unescape(event["LOCATION"][1]) == INVITE["location"]
    assert event["DESCRIPTION"][1] == ("Convocation.\\nApportez le livret "
                                       "d'apprentissage\\\\contrat.")
    assert unescape(event["DESCRIPTION"][1]) == INVITE["description"]
    assert event["ORGANIZER"] == ("", "mailto:formation@cfa.example")
    assert event["ATTENDEE"] == (";RSVP=FALSE", "mailto:m.durand@acme.example")
    assert [name for name, _, _ in found["VCALENDAR/VEVENT"]].count("ATTENDEE") == 1
    assert event["SEQUENCE"] == ("", "0")


def test_ics_sequence_of_an_invitation_sent_again():
    event = props(parse(ics_event(**INVITE, sequence=3)), "VCALENDAR/VEVENT")
    assert event["SEQUENCE"] == ("", "3")
    with pytest.raises(ValueError, match="séquence"):
        ics_event(**INVITE, sequence=-1)


def test_ics_timezone_rules():
    found = parse(ics_event(**INVITE))
    assert props(found, "VCALENDAR/VTIMEZONE") == {"TZID": ("", "Europe/Paris")}
    summer = props(found, "VCALENDAR/VTIMEZONE/DAYLIGHT")
    winter = props(found, "VCALENDAR/VTIMEZONE/STANDARD")
    assert (summer["TZNAME"][1], summer["TZOFFSETFROM"][1], summer["TZOFFSETTO"][1]) == \
        ("CEST", "+0100", "+0200")
    assert summer["RRULE"][1] == "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"
    assert (winter["TZNAME"][1], winter["TZOFFSETFROM"][1], winter["TZOFFSETTO"][1]) == \
        ("CET", "+0200", "+0100")
    assert winter["RRULE"][1] == "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"


def test_ics_event_optional_parts_left_out():
    text = ics_event(**{**INVITE, "location": None, "description": "", "organizer_email": None,
                        "attendee_email": None})
    event = props(parse(text), "VCALENDAR/VEVENT")
    assert not {"LOCATION", "DESCRIPTION", "ORGANIZER", "ATTENDEE"} & set(event)
    assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} <= set(event)


def test_ics_crlf_only():
    text = ics_event(**INVITE)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert text.count("\n") == text.count("\r\n") and text.count("\r") == text.count("\r\n")


@pytest.mark.parametrize("summary", [
    "é" * 80,                                        # 2 octets each: 37 + 37 + … per line
    "a" + "é" * 80,                                  # odd offset: a cut would split a char
    "Évaluer les acquis € " * 10,                    # 3-octet €
    "x" * 66,                                        # "SUMMARY:" + 66 = 74 octets + …
    "x" * 67,                                        # exactly 75 octets: no fold
    "x" * 68,                                        # 76 octets: one fold
], ids=["accents", "accents_odd", "euro", "74", "75", "76"])
def test_ics_folding(summary):
    text = ics_event(**{**INVITE, "summary": summary})
    event = props(parse(text), "VCALENDAR/VEVENT")   # parse checks ≤ 75 octets and UTF-8
    assert unescape(event["SUMMARY"][1]) == summary


def test_ics_folding_boundaries():
    lines = ics_event(**{**INVITE, "summary": "x" * 67}).split("\r\n")
    assert "SUMMARY:" + "x" * 67 in lines
    lines = ics_event(**{**INVITE, "summary": "x" * 68}).split("\r\n")
    at = lines.index("SUMMARY:" + "x" * 67)
    assert lines[at + 1] == " x"
    lines = ics_event(**{**INVITE, "summary": "é" * 40}).split("\r\n")
    first = [line for line in lines if line.startswith("SUMMARY:")][0]
    assert first == "SUMMARY:" + "é" * 33            # 8 + 66 = 74: the next é would be 76
    assert lines[lines.index(first) + 1] == " " + "é" * 7


def test_ics_line_breaks_and_controls_cannot_inject():
    text = ics_event(**{**INVITE, "summary": "Atelier\r\nATTENDEE:mailto:x@evil.example\x07",
                        "location": "Salle\r1"})
    event = parse(text)["VCALENDAR/VEVENT"]
    assert [name for name, _, _ in event].count("ATTENDEE") == 1
    values = props(parse(text), "VCALENDAR/VEVENT")
    assert unescape(values["SUMMARY"][1]) == "Atelier\nATTENDEE:mailto:x@evil.example"
    assert unescape(values["LOCATION"][1]) == "Salle\n1"


@pytest.mark.parametrize("field, email", [
    ("attendee_email", "a@b.example\r\nATTENDEE:mailto:x@y"),
    ("organizer_email", "pas une adresse"),
    ("attendee_email", "x;RSVP=TRUE@y.example"),
], ids=["line_break", "no_at", "parameter"])
def test_ics_bad_emails_refused(field, email):
    with pytest.raises(ValueError, match="Adresse électronique invalide"):
        ics_event(**{**INVITE, field: email})


def test_ics_aware_datetimes_converted():
    paris_summer = datetime(2027, 7, 1, 7, 0, tzinfo=timezone.utc)   # 09:00 in Paris (CEST)
    text = ics_event(**{**INVITE, "start": paris_summer, "end": paris_summer + timedelta(hours=8),
                        "stamp": datetime(2027, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))})
    event = props(parse(text), "VCALENDAR/VEVENT")
    assert event["DTSTART"][1] == "20270701T090000" and event["DTEND"][1] == "20270701T170000"
    assert event["DTSTAMP"][1] == "20270601T080000Z"


def test_ics_end_before_start():
    with pytest.raises(ValueError, match="La fin de l'événement doit suivre son début"):
        ics_event(**{**INVITE, "end": INVITE["start"]})
