"""« Tableau de bord financier » (SPEC §5, issue 13): the CFA's follow-up of the OPCO financing
— cash expected per month, claims to deposit, unpaid claims, late decisions, balances at risk.

CFA staff only (portal.policy.may_open_finance_dashboard): anyone else logged in gets 403, an
anonymous visitor the login page. The figures are portal.financing.dashboard's."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from portal import policy
from portal.financing.dashboard import dashboard
from portal.rules.formatting import day, eur

from .list_door import refuse_nul_bytes


class FinanceDashboardView(BaseView):
    def is_accessible(self):
        return policy.may_open_finance_dashboard(current_user)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)

    def _handle_view(self, name, **kwargs):
        refuse_nul_bytes()
        return super()._handle_view(name, **kwargs)

    @expose("/")
    def index(self):
        return self.render("admin/finance_dashboard.html", eur=eur, day=day,
                           **dashboard(current_user))
