"""Benchmarks of `failover` against what a user would do without it.

Each scenario is one module that runs on its own (``python -m benchmarks.overhead``, ``python -m
benchmarks.outage``, ``--quick`` for a small size, ``--out DIR`` for another output directory) and
writes ``<name>.json`` (numbers, parameters, environment), ``<name>.md`` (a table and a reading of it)
and, where a plot says more, ``<name>.png`` into ``benchmarks/results/``. ``python -m benchmarks``
runs them all.

The machines these run on are small and shared, so speed is never reported as an absolute number
alone: every contender is measured in the same run as the raw SDK, interleaved in rounds, and the
result is a ratio of medians.
"""
