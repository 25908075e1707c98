"""``python -m reenactor`` (also what ``torchrun -m reenactor train ...`` runs)."""

import sys

from .cli import main

sys.exit(main())
