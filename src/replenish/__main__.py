"""``python -m replenish``: the command line (:mod:`replenish.cli`); the one module above the CLI."""

import sys

from replenish import cli

sys.exit(cli.main())
