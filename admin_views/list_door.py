"""The list door of SecureModelView (issue 12): what a list reads from its query string is
brought into range before it reaches the database, so a crafted URL shows a list, never a 500;
and its exports are written by portal.exports (formula-safe, as French Excel opens them).

Flask-Admin (pinned <2.3) reads ``page``, ``page_size``, ``sort``, ``desc``, ``search`` and the
``flt<pos>_<index>`` filters in BaseModelView._get_list_extra_args / _get_list_filter_args
(flask_admin/model/base.py) and hands them to get_list, which turns ``page`` into
``OFFSET page * page_size``: 10**20 overflows the 64-bit integers of SQLite and PostgreSQL, a
negative page is an error on PostgreSQL, and a filter value that does not fit its column
(a letter or 10**20 for an INTEGER, a NUL byte in a text) is a database error.

- ``page`` < 0 is the first page; beyond the last it is the last page (a person who followed an
  old link, or typed a number, sees the end of the list rather than an error page);
- ``page_size`` only among ``page_size_options`` (Flask-Admin's get_safe_page_size);
- ``sort`` outside the columns is the default order, ``desc`` any number (Flask-Admin);
- ``search``: NUL bytes removed, at most MAX_SEARCH characters and 10 words, a trailing escape
  character dropped (PostgreSQL refuses a LIKE pattern ending with one);
- filters: an unknown index is ignored (Flask-Admin); a value that its filter does not accept,
  or that does not fit its column's type and range, is dropped with a French notice; at most
  MAX_FILTERS filters.

Exports: Flask-Admin's export route (rows from the scoped get_query) hands them to _export_csv
or, for any other type, _export_tablib; both are replaced, so every export of every view goes
through portal.exports (CSV streamed; XLSX only as a second type, anything else refused).
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote_plus

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, request, stream_with_context
from flask_admin._compat import as_unicode
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.filters import FilterLike, FilterNotLike
from flask_admin.contrib.sqla.typefmt import DEFAULT_FORMATTERS
from flask_admin.model.typefmt import DETAIL_FORMATTERS

from portal import exports

MAX_PAGE = 10**7          # OFFSET page * 100 stays below 2**31 (bound as an INTEGER)
MAX_SEARCH = 200
MAX_FILTER_VALUE = 200
MAX_FILTERS = 20
MAX_EXTRA_ARG = 500       # other query-string values, echoed into the pager's links
URL_SAFE = "!$'()*,/:;?@"  # what Werkzeug's url_for leaves unencoded in a query string
_INT_RANGES = ((sa.SmallInteger, 2**15 - 1), (sa.BigInteger, 2**63 - 1), (sa.Integer, 2**31 - 1))


# French dates in every list and details screen (Flask-Admin shows ISO dates and timestamps
# with microseconds): datetime before date, the first type that matches wins.
FRENCH_DATES = {datetime: lambda view, value, name: exports.moment_text(value),
                date: lambda view, value, name: exports.day_text(value)}
LIST_TYPE_FORMATTERS = {**FRENCH_DATES, **DEFAULT_FORMATTERS}
DETAIL_TYPE_FORMATTERS = {**FRENCH_DATES, **DETAIL_FORMATTERS}


INDENTATION = re.compile(r"\n\s+")  # leading blanks and empty lines


def clamp(value, low: int, high: int) -> int:
    try:
        value = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return low
    return max(low, min(high, value))


def clean_text(value: str | None, limit: int, max_terms: int = 10) -> str | None:
    """Text safe to put in a LIKE pattern: no NUL, bounded, at most ``max_terms`` words (each
    is one more ILIKE on every searched column), no trailing lone backslash."""
    if value is None:
        return None
    value = value.replace("\x00", "")[:limit]
    terms = []
    for term in [t for t in value.split(" ") if t][:max_terms]:
        stripped = term.rstrip("\\")
        # An odd run of trailing backslashes escapes nothing: drop the last one.
        if (len(term) - len(stripped)) % 2:
            term = term[:-1]
        terms.append(term)
    return " ".join(terms)


def _int_limit(column_type) -> int:
    for kind, limit in _INT_RANGES:
        if isinstance(column_type, kind):
            return limit
    return 2**63 - 1


def _python_type(column_type):
    try:
        return column_type.python_type
    except (NotImplementedError, AttributeError):
        return None


def _fits(column_type, value) -> bool:
    """May ``value`` be compared with a column of this type without a database error?"""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= _int_limit(column_type)
    if isinstance(value, (float, Decimal)):
        return math.isfinite(value) and abs(value) < 10**15
    if isinstance(value, (date, datetime)):
        return True
    if not isinstance(value, str):
        return True
    if "\x00" in value or len(value) > MAX_FILTER_VALUE:
        return False
    wanted = _python_type(column_type) if column_type is not None else None
    try:
        if wanted is int:
            return abs(int(value.strip())) <= _int_limit(column_type)
        if wanted in (float, Decimal):
            number = Decimal(value.strip())
            return number.is_finite() and abs(number) < 10**15
        if wanted is bool:
            return value.strip().lower() in ("0", "1", "true", "false")
        if wanted is date:
            date.fromisoformat(value.strip())
        elif wanted is datetime:
            datetime.fromisoformat(value.strip())
    except (ValueError, InvalidOperation, OverflowError):
        return False
    return True


def filter_value_ok(flt, value: str) -> bool:
    """The filter accepts the value, and its cleaned value fits the filtered column."""
    if not isinstance(value, str) or len(value) > MAX_FILTER_VALUE or "\x00" in value:
        return False
    try:
        if not flt.validate(value):
            return False
        cleaned = flt.clean(value)
    except (ValueError, TypeError, OverflowError, InvalidOperation):
        return False
    if not type(flt).validate.__module__.startswith("flask_admin."):
        # A filter of Sillon's with its own validate() (admin_views/filters.LateFilter) takes
        # named options, not a value of its column: that validate() is the whole check.
        return True
    column_type = getattr(getattr(flt, "column", None), "type", None)
    values = cleaned if isinstance(cleaned, (list, tuple)) else [cleaned]
    return all(_fits(column_type, v) for v in values)


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus leaves as it is, whatever safe says


def _encoded(value) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if _PLAIN.fullmatch(text) else quote_plus(text, safe=URL_SAFE)


def list_query_string(values: dict) -> str:
    """``?a=1&b=2`` as Werkzeug's url_for writes the arguments of no rule's path: in their
    order, None left out, percent-encoded but for the characters it keeps (urlencode's
    quote_plus, skipped for a plain number or word: a list page writes twenty of these)."""
    pairs = [f"{_encoded(key)}={_encoded(value)}" for key, value in values.items()
             if value is not None]
    return "?" + "&".join(pairs) if pairs else ""


def _short(value: str) -> str:
    value = value.replace("\x00", "")
    return value if len(value) <= 40 else value[:40] + "…"


def refuse_nul_bytes() -> None:
    """A posted value (or uploaded file name) holding a NUL byte: nobody types one, and
    PostgreSQL refuses it in every text column (a 500 after the write began). 400 instead,
    on the French error page, before any view runs."""
    if request.method != "POST":
        return
    posted = [text for pair in request.form.items(multi=True) for text in pair]
    posted += [f.filename or "" for f in request.files.values()]
    if any("\x00" in text for text in posted):
        abort(400)


# Flask-Admin's filters that compare the column with the typed text as it is: on PostgreSQL
# `integer = '2026'::VARCHAR` has no operator, so they fit text columns only.
TEXT_FILTERS = (sqla_filters.FilterEqual, sqla_filters.FilterNotEqual, sqla_filters.FilterLike,
                sqla_filters.FilterNotLike, sqla_filters.FilterGreater,
                sqla_filters.FilterSmaller, sqla_filters.FilterInList,
                sqla_filters.FilterNotInList)


def check_filter_declaration(view_name: str, flt) -> None:
    """At start-up: a text filter declared on a column that is not text is a mistake that
    answers 500 on PostgreSQL for every value (use IntEqualFilter, DateEqualFilter…)."""
    if type(flt) not in TEXT_FILTERS:
        return
    wanted = _python_type(getattr(getattr(flt, "column", None), "type", None))
    if wanted is not None and wanted is not str:
        raise TypeError(f"{view_name}: the filter {flt.name!r} compares a {wanted.__name__} "
                        f"column with text; declare it with the filter of its type.")


BARE_LIST = "sillon_bare_list"  # g: the endpoint whose list runs with no search and no filter


class ListDoorMixin:
    """Mixed into SecureModelView before Flask-Admin's ModelView."""

    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS

    def render(self, template, **kwargs):
        """A list page without its templates' indentation (a sixth of its bytes): a list has
        no <pre> nor <textarea> whose text the indentation belongs to."""
        html = super().render(template, **kwargs)
        if template == self.list_template and isinstance(html, str):
            return INDENTATION.sub("\n", html)
        return html

    def _get_list_url(self, view_args) -> str:
        """Flask-Admin's URL of the list with these arguments (page, sort, search, filters), the
        same string, its path built once per request (a page asks for twenty of them)."""
        kwargs = dict(page=view_args.page or None, sort=view_args.sort,
                      desc=1 if view_args.sort_desc else None, search=view_args.search)
        kwargs.update(view_args.extra_args)
        kwargs["page_size"] = self.get_safe_page_size(view_args.page_size)
        kwargs.update(self._get_filters(view_args.filters))
        paths = g.setdefault("sillon_list_paths", {})
        path = paths.get(self.endpoint)
        if path is None:
            path = paths[self.endpoint] = self.get_url(".index_view")
        return path + list_query_string(kwargs)

    def list_row_label(self, row) -> str:
        """The accessible name of a row's check box (templates/admin/sillon_list.html)."""
        return f"Sélectionner la ligne n° {self.get_pk_value(row)}"

    def _handle_view(self, name, **kwargs):
        refuse_nul_bytes()
        return super()._handle_view(name, **kwargs)

    def handle_filter(self, filter):
        filter = super().handle_filter(filter)
        check_filter_declaration(type(self).__name__, filter)
        return filter

    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        args.page = clamp(args.page, 0, MAX_PAGE)
        args.search = clean_text(args.search, MAX_SEARCH)
        args.extra_args = {k: v for k, v in args.extra_args.items()
                           if len(k) <= 100 and len(v) <= MAX_EXTRA_ARG
                           and "\x00" not in k + v}
        g.sillon_list_args = args  # get_list moves a page beyond the last back onto it
        return args

    def _get_list_filter_args(self):
        """Flask-Admin's reading of the ``flt`` arguments, with every value checked first."""
        if not self._filters:
            return None
        found, dropped, extra = [], [], 0
        for arg in request.args:
            if not arg.startswith("flt") or "_" not in arg:
                continue
            pos, key = arg[3:].split("_", 1)
            if key not in self._filter_args:
                continue
            idx, flt = self._filter_args[key]
            value = request.args[arg]
            if isinstance(flt, (FilterLike, FilterNotLike)):
                value = clean_text(value, MAX_FILTER_VALUE + 1)
            if not filter_value_ok(flt, value):
                dropped.append(f"« {flt.name} » (« {_short(value)} »)")
            elif len(found) < MAX_FILTERS:  # each one more condition (SQLite: 1 000 at most)
                found.append((pos, (idx, as_unicode(flt.name), value)))
            else:
                extra += 1
        if dropped:
            flash("Filtre ignoré, sa valeur n'est pas valide : " + ", ".join(dropped[:3])
                  + ("…" if len(dropped) > 3 else "") + ".", "warning")
        if extra:
            flash(f"Au plus {MAX_FILTERS} filtres à la fois : {extra} filtre"
                  f"{'s' if extra > 1 else ''} ignoré{'s' if extra > 1 else ''}.", "warning")
        return [v for _, v in sorted(found, key=lambda n: n[0])]

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        page = clamp(page, 0, MAX_PAGE)
        search = clean_text(search, MAX_SEARCH)
        # Flask-Admin adds nothing to the count of a list with no search and no filter: the
        # view then counts by the policy's count_statement (SecureModelView.get_count_query).
        setattr(g, BARE_LIST, None if search or filters else self.endpoint)
        try:
            count, query = super().get_list(page, sort_column, sort_desc, search, filters,
                                            execute=False, page_size=page_size)
        finally:
            setattr(g, BARE_LIST, None)
        size = self.page_size if page_size is None else page_size
        shown = self.shown_page(page, size, count)
        if shown != page:
            query = query.offset(shown * size if shown else None)
        return count, (query.all() if execute else query)

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        """Flask-Admin's order, then the primary key in the same direction: rows of equal
        value (a state, a date, a name) keep one order from one page to the next, so paging
        never shows a row twice nor skips one (SQL gives equal rows in any order)."""
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        key = getattr(self, "_primary_key", None)
        pk = getattr(self.model, key, None) if isinstance(key, str) else None
        if pk is None:
            return query, joins
        if sort_column is not None:
            if sort_column == key or sort_column not in self._sortable_columns:
                return query, joins
            desc = bool(sort_desc)
        else:
            order = list(self._get_default_order() or ())
            if not order or any(field is pk or getattr(field, "key", None) == key
                                for field, _, _ in order):
                return query, joins
            desc = bool(order[-1][2])
        return query.order_by(pk.desc() if desc else pk.asc()), joins

    def shown_page(self, page: int, size: int, count: int | None) -> int:
        """The page a list shows for ``page``: the last one when ``page`` is beyond it (the
        pager then agrees)."""
        if count is None or not size or not page or page * size < count:
            return page
        last = max(0, math.ceil(count / size) - 1)
        args = g.get("sillon_list_args")
        if args is not None and args.page == page:
            args.page = last  # the pager and the page shown agree
        return last

    # --- exports ---------------------------------------------------------------------------------
    def _export_table(self):
        _, data = self._export_data()
        header = [label for _, label in self._export_columns]
        rows = ([self.get_export_value(row, name) for name, _ in self._export_columns]
                for row in data)
        return header, rows

    def _export_csv(self, return_url):
        header, rows = self._export_table()
        return Response(stream_with_context(exports.csv_lines(header, rows)),
                        mimetype=exports.CSV_MIMETYPE,
                        headers=exports.attachment(self.name, "csv"))

    def _export_tablib(self, export_type, return_url):
        if export_type != "xlsx":
            flash("Ce format d'export n'est pas proposé : choisissez CSV ou Excel.", "error")
            return redirect(return_url)
        header, rows = self._export_table()
        return Response(exports.xlsx_bytes(header, rows, title=self.name),
                        mimetype=exports.XLSX_MIMETYPE,
                        headers=exports.attachment(self.name, "xlsx"))
