"""OPCO financing (SPEC §5, seed 004): the prise en charge of each dossier sent to the OPCO,
its amounts and payment schedule, the reimbursement requests with their invoices, certificates,
receipts and payments, the employer's invoice, the delegating organisations and the CFA's
finance dashboard.

- states.py: the prise en charge's states and the OPCO's answers, as a table;
- amounts.py: the figures, from the dossier's snapshot through portal.rules.financing;
- service.py: the write path of a prise en charge (opening, answers, amounts, schedule);
- claims.py: the write path of the claims (invoice, certificate, deposit, payment, rejection)
  and of the employer's invoice;
- invoices.py: gap-free numbering and the invoice / receipt PDFs;
- dashboard.py: the CFA's finance figures.
"""


def init_app(app) -> None:
    """Follow the dossiers' workflow: open the prise en charge when a dossier is declared sent
    to the OPCO, recompute its schedule on a rupture, cancel it with the dossier."""
    from portal.financing import service
    service.connect()
