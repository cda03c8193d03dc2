"""``python -m cnnkit``: the command line (see :mod:`cnnkit.cli`)."""

from cnnkit.cli import main

raise SystemExit(main())
