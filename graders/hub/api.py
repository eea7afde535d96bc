"""A small client for JupyterHub's REST API and for single-user servers behind the proxy."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from ..errors import HubError


class HubAPI:
    """A small client for JupyterHub's REST API (``/hub/api``), with a token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, *, body: Any = None) -> Any:
        """JSON in, JSON out; raises :class:`HubError` with the hub's message on HTTP errors."""
        return http_json(method, f"{self.base_url}/hub/api{path}", token=self.token, body=body, timeout=self.timeout)

    def start_server(self, user: str) -> None:
        try:
            self.request("POST", f"/users/{user}/server")
        except HubError as exc:
            if "is already running" not in str(exc) and "pending" not in str(exc):
                raise

    def wait_ready(self, users: Sequence[str], *, timeout: float = 120.0) -> None:
        """Poll until every user's default server is ready; fail naming who is not."""
        deadline = time.monotonic() + timeout
        waiting = list(users)
        last: dict[str, Any] = {}
        while waiting:
            for user in list(waiting):
                model = self.request("GET", f"/users/{user}")
                server = (model.get("servers") or {}).get("")
                last[user] = server
                if server and server.get("ready"):
                    waiting.remove(user)
                elif server is None and model.get("pending") is None:
                    raise HubError(f"the server of {user} stopped while starting (see the hub's log)")
            if waiting and time.monotonic() > deadline:
                states = ", ".join(f"{u}: {last.get(u)}" for u in waiting)
                raise HubError(f"servers not ready after {timeout:.0f} s: {states}")
            if waiting:
                time.sleep(0.3)

    def user_token(self, user: str, *, note: str = "paceline", expires_in: int = 3600) -> str:
        """A new API token acting as ``user`` (what their browser session would carry)."""
        return self.request("POST", f"/users/{user}/tokens", body={"note": note, "expires_in": expires_in})["token"]

    def stop_server(self, user: str) -> None:
        self.request("DELETE", f"/users/{user}/server")


def http_json(method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 30.0) -> Any:
    """One HTTP request with an optional JSON body; the decoded JSON answer (None if empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:2000]
        raise HubError(f"{method} {url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise HubError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None
    return json.loads(raw) if raw.strip() else None
