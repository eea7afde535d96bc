"""The hub's login: each student's own password, checked against the hashes paceline keeps.

``paceline hub`` sets ``JupyterHub.authenticator_class`` to
:class:`PacelineAuthenticator` with ``password_file`` = the course's
``password-hashes.json`` (see :mod:`graders.hub.passwords`). The file is read
at every login, so a password reset (``paceline hub passwords --reset``)
works without restarting the hub, and a student whose hash is gone (withdrawn)
cannot log in even if ``allowed_users`` still named them. A student's first
login takes their password off the plain-text list for the instructor
(``password_list``). Imported by the hub process only: it needs JupyterHub.
"""

from __future__ import annotations

from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from ..errors import HubError
from .passwords import check_login, read_hashes, take_off_list


class PacelineAuthenticator(Authenticator):
    """Username = the student's unix account; password = theirs, checked against its scrypt hash."""

    password_file = Unicode(
        "", config=True,
        help="JSON file of account -> scrypt hash (graders.hub.passwords), readable by the hub only.",
    )
    password_list = Unicode(
        "", config=True,
        help="The instructor's CSV of new passwords to hand out: a student's row goes at their first login.",
    )

    async def authenticate(self, handler: object, data: dict) -> str | None:
        username = data.get("username") if isinstance(data, dict) else None
        password = data.get("password") if isinstance(data, dict) else None
        if not isinstance(username, str) or not isinstance(password, str) or not self.password_file:
            return None
        username = self.normalize_username(username)  # account names are lower case
        try:
            hashes = read_hashes(Path(self.password_file))
        except HubError as exc:
            self.log.error("paceline: %s", exc)
            return None
        if check_login(hashes, username, password):
            if self.password_list:
                try:
                    take_off_list(Path(self.password_list), username)
                except OSError as exc:  # the list is a convenience: it never stands in the way of a login
                    self.log.warning("paceline: %r's password stays on %s: %s", username, self.password_list, exc)
            return username
        self.log.warning("paceline: failed login for %r", username)
        return None
