"""``python -m cmtoy``: the command line of :mod:`cmtoy.cli`."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while numpy and scipy are still loading
    sys.stderr.write("cmtoy: interrupted\n")
    sys.exit(130)

sys.exit(main())
