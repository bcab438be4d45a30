"""Training actions for employers' staff (SPEC §6, seed 003): the CFA's catalogue of actions and
sessions, the requests of the companies' staff, the employer's decision, the organiser's
selection with its waiting list, attendance and attestations.

- states.py: a request's states and steps, as a table (the only place a state means something);
- guards.py: the guards the table names;
- limits.py: the request limits, read from their table (defaults in portal.models.enrolments);
- messages.py: who is told what;
- service.py: the one write path of a request (request, each step, the automatic rows).
"""
