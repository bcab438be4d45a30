"""Who sees what and who may write what (SPEC §1): the one place both are decided.

Every function takes the person and returns an SQL filter, a boolean, or a French refusal
(None when allowed). ``from portal import policy`` gives all of it:

- scope.py: reads — the row filter of each model, the screens, per-row may_edit / may_delete,
  the workflow table's locks (memo.py: each person's clauses built once per process);
- dossier_writes.py: writes on a dossier — tabs, fields, transitions, mission, signed returns,
  "J'ai trouvé un employeur";
- structures.py: trainings and structures — import and creation, référents, establishments,
  access-code registration, dashboards;
- financing.py: the OPCO financing — prises en charge, schedules, claims, invoices, payments,
  delegating organisations;
- signatures.py: the electronic signature — who starts, cancels and follows it;
- training_actions.py: the training actions for employers' staff — catalogue, requests, who
  requests, decides and selects.
"""
from portal.policy.dossier_writes import *  # noqa: F401,F403
from portal.policy.scope import *  # noqa: F401,F403
from portal.policy.scope import _FILTERS, _VIEW_ROLES  # noqa: F401
from portal.policy.structures import *  # noqa: F401,F403
from portal.policy.financing import (CFA_ONLY, financing_document_allowed,  # noqa: F401
                                     financing_follows_dossiers,
                                     financing_refusal, may_open_finance_dashboard,
                                     may_see_amounts_of, may_see_financing)
from portal.policy.signatures import (may_follow_signatures,  # noqa: F401
                                      signature_cancel_refusal, signature_start_refusal)
from portal.policy.training_actions import (beneficiary_structure_ids,  # noqa: F401
                                            decider_structure_ids, may_request_for,
                                            roles_on_inscription, step_refusal)
from portal.policy import financing as _financing
from portal.policy import training_actions as _training_actions
from portal.policy.scope import _register

for _rules in (_financing, _training_actions):
    _register(_rules.FILTERS, _rules.VIEW_ROLES, _rules.CREATE_ROLES, _rules.EDIT_ROLES,
              _rules.DELETE_ROLES)
