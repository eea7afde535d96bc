"""The habits simulated students follow, shared by analytics' synthetic logs and paceline's simulated cohort.

- ``early``: starts each lesson soon after it opens, rarely needs a retry;
- ``steady``: submits in the days before each target;
- ``crammer``: submits around the target, often just after it;
- ``struggler``: around the target and often late; first attempts mostly fail, and they try again;
- ``dropout``: steady for a few lessons, then stops (half of them withdraw);
- ``late_enroller``: enrols weeks after the start and catches up.
"""

from __future__ import annotations

from typing import Literal

Persona = Literal["early", "steady", "crammer", "struggler", "dropout", "late_enroller"]
PERSONAS: tuple[Persona, ...] = ("early", "steady", "crammer", "struggler", "dropout", "late_enroller")
PERSONA_WEIGHTS: tuple[float, ...] = (0.15, 0.30, 0.20, 0.15, 0.12, 0.08)  # how common each is in a cohort
