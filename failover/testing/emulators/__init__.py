"""Local clouds for tests, demos and benchmarks: real emulators as subprocesses.

::

    from failover.testing.emulators import LocalClouds

    with LocalClouds(("aws", "gcs")) as clouds:
        primary = clouds.aws.s3_config("orders")
        replica = clouds.gcs.gcs_config("orders")
        ...
        clouds.stop("aws")      # an outage: connects to moto are refused
        clouds.start("aws")     # recovery, on the same port

Each emulator runs on a free loopback port, in its own process group, logging to a file
(`Emulator.log_path`); `Emulator.pause` freezes it (a hang). Nothing here imports a cloud SDK.
Executables can be pointed at with ``FAILOVER_MOTO_SERVER``, ``FAILOVER_FAKE_GCS_SERVER``,
``FAILOVER_AZURITE`` and ``FAILOVER_PUBSUB_EMULATOR``. `PostgresServer` is the database of a fleet
(``FAILOVER_POSTGRES_BIN``), started on its own, not by `LocalClouds`.
"""

from failover.testing.emulators._base import Emulator, running_emulators
from failover.testing.emulators._local import SERVICES, LocalClouds
from failover.testing.emulators._postgres import PostgresServer
from failover.testing.emulators._services import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    TEST_PROJECT,
    Azurite,
    FakeGcsServer,
    MotoServer,
    PubSubEmulator,
)
from failover.testing.emulators._tools import EmulatorError

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "SERVICES",
    "TEST_PROJECT",
    "Azurite",
    "Emulator",
    "EmulatorError",
    "FakeGcsServer",
    "LocalClouds",
    "MotoServer",
    "PostgresServer",
    "PubSubEmulator",
    "running_emulators",
]
