"""`python -m centralita` is the `centralita` command."""

import sys

from centralita.cli import main

sys.exit(main())
