"""``python -m graders.hub install-tools``: what ``make hub-tools`` runs."""

import sys

from ..errors import HubError
from .tools import install_hub_tools

if sys.argv[1:] != ["install-tools"]:
    sys.exit("usage: python -m graders.hub install-tools")
try:
    installed = install_hub_tools()
except HubError as exc:
    sys.exit(f"error: {exc}")
print(f"hub tools ready in {installed.root}")
