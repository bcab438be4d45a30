"""La mission."""
from .common import TabForm, long_text


class MissionForm(TabForm):
    mission_description = long_text("Description des missions", 10_000,
                                     render_kw={"rows": 10})
