"""``python -m strangler`` runs the CLI."""

from __future__ import annotations

import sys

from strangler.cli import main

sys.exit(main())
