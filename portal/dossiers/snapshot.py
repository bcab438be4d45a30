"""What a dossier shows and prints about its establishment, employer and training, frozen with
it from ``validation_demandee`` on (placeholder: the snapshot itself is being written)."""
from __future__ import annotations


def on_transition(dossier, source: str, target: str) -> None:
    """Called by the transition executor after every state change (manual or automatic)."""
