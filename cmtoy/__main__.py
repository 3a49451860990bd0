"""``python -m cmtoy``: the command line of :mod:`cmtoy.cli`."""

import sys

from .cli import main

sys.exit(main())
