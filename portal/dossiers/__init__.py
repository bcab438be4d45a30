"""The dossier: its one write path (service.py), state machine (workflow.py), lock, history,
deadlines, tabs, import and the employer link."""
