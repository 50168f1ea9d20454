"""A seeded chaos run on local clouds: ``.venv/bin/python scripts/chaos.py --ops 10000 --seed 7``.

The harness is `failover.testing.chaos` (checked by mypy with the package); this only calls it.
"""

import sys

from failover.testing.chaos import main

if __name__ == "__main__":
    sys.exit(main())
