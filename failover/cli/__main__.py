"""``python -m failover.cli``: the same command as the ``failover`` console script."""

import sys

from failover.cli import main

sys.exit(main())
