"""Test kit for applications that use failover: local clouds, faults, failing wrappers, contract suites.

- `LocalClouds` (and `MotoServer`, `FakeGcsServer`, `Azurite`, `PubSubEmulator`): real emulators on
  free ports, each in its own process group, with stop/start/pause/resume to script an outage.
- `FaultProxy` and `Fault`: a TCP proxy in front of an emulator that refuses, blackholes, stalls,
  delays, resets, throttles bandwidth or answers 503/429; `DnsFaults` makes host names stop resolving.
- `FaultyStore` and `FaultyQueue`: wrappers that raise scripted failover errors, for unit tests.
- `failover.testing.contract`: the behaviour suites every adapter passes (imports pytest; import it
  from your tests).
- `failover.testing.chaos`: a seeded workload through outages, checked for lost writes and messages,
  duplicates and stale reads (`python scripts/chaos.py --ops N --seed S`).
"""

from failover.testing.emulators import (
    Azurite,
    EmulatorError,
    FakeGcsServer,
    LocalClouds,
    MotoServer,
    PubSubEmulator,
)
from failover.testing.faults import DnsFaults, Fault, FaultProxy, unresolvable
from failover.testing.faulty import FaultyStore
from failover.testing.faulty_queue import FaultyQueue

__all__ = [
    "Azurite",
    "DnsFaults",
    "EmulatorError",
    "FakeGcsServer",
    "Fault",
    "FaultProxy",
    "FaultyQueue",
    "FaultyStore",
    "LocalClouds",
    "MotoServer",
    "PubSubEmulator",
    "unresolvable",
]
