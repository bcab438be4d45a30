"""What the dossier's write path announces to the capabilities built on it (blinker signals).

The OPCO financing (portal/financing) follows a dossier from its sending to the OPCO: it listens
to ``transition_applied`` instead of the workflow importing it (arrows run one way:
financing → dossiers). A receiver runs inside the transition's transaction: what it writes is
committed, or rolled back, with the transition; an exception it raises refuses the transition.
"""
from blinker import Namespace

_signals = Namespace()

# sent with the transition's code as sender; kwargs: dossier, user, source, target, inputs,
# comment, stamp
transition_applied = _signals.signal("transition-applied")
# sent with the kind of signed document (cerfa_signe, convention_signee) as sender when one is
# returned, on paper or at the end of an electronic signature; kwargs: dossier, document, user
signed_returned = _signals.signal("signed-returned")
