"""A real local JupyterHub for a course: real unix students, JupyterLab, nbgrader's exchange.

``paceline hub`` (:func:`serve_hub`) runs JupyterHub on 127.0.0.1 only, with one
real unix account per roster student, so that the operating system, not a
config file, says who submitted. docs/jupyterhub.md explains each part and
how it maps onto an existing JupyterHub.

- :mod:`.tools`: configurable-http-proxy from npm and the students' Python
  environment (``make hub-tools``);
- :mod:`.accounts`: the students' unix accounts and how roster ids map to them;
- :mod:`.passwords`: a password per student, stored hashed (and
  :mod:`.authenticator`, the hub's login that checks them; imported by the
  hub process only);
- :mod:`.permissions`: the exchange's modes, what students could read;
- :mod:`.settings`: ``jupyterhub_config.py`` and the students' nbgrader config;
- :mod:`.process`: start, stop and clean up a run (processes, cgroup);
- :mod:`.api`: the hub's REST API.
"""

from .accounts import (
    account_name,
    ensure_student_accounts,
    remove_student_accounts,
    student_accounts,
)
from .api import HubAPI, http_json
from .permissions import blocked_for_others, exposed_instructor_paths, prepare_exchange
from .process import HubProcess, kill_run, run_hub, run_processes, serve_hub, start_hub
from .settings import HubSettings, hub_config, watch_service
from .tools import HubTools, default_tools_dir, install_hub_tools

__all__ = [
    "HubAPI", "HubProcess", "HubSettings", "HubTools", "account_name", "blocked_for_others",
    "default_tools_dir", "ensure_student_accounts", "exposed_instructor_paths", "hub_config",
    "http_json", "install_hub_tools", "kill_run", "prepare_exchange", "remove_student_accounts",
    "run_hub", "run_processes", "serve_hub", "start_hub", "student_accounts", "watch_service",
]
