"""``python -m fdb_election.sim``: see :mod:`fdb_election.sim.cli`."""

from __future__ import annotations

import sys

from fdb_election.sim.cli import main

sys.exit(main())
