"""The library's own source of jitter.

Retry waits, probe schedules, replication backoff and lock pauses draw from this generator, never
from the `random` module's global one: that one belongs to the application (a seeded simulation, a
property-based test that checks nothing else draws from it while it generates data). `random.Random`
is safe to share between threads.
"""

from __future__ import annotations

import random

__all__ = ["jitter"]

_GENERATOR = random.Random()

jitter = _GENERATOR.random
"""Uniform in [0, 1)."""
