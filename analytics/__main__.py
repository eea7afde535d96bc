"""``python -m analytics report ...``: see :mod:`analytics.cli`."""

import sys

from .cli import main

sys.exit(main())
