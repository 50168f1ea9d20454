"""Every store DOWN after a blip: FailoverStorage asks one instead of failing until a probe is due."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.adapters.memory import MemoryStore
from failover.clock import ManualClock
from failover.engine import EngineSettings
from failover.errors import AllProvidersFailed
from failover.health import HealthState, ProbeBackoff
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore, refused

SETTINGS = EngineSettings(start_probers=False, retry_base=0.0, probe_backoff=ProbeBackoff(base=30.0, jitter=0.0))


class Two:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.aws = FaultyStore(MemoryStore("aws"), clock=self.clock)
        self.gcp = FaultyStore(MemoryStore("gcp"), clock=self.clock)
        self.storage = FailoverStorage([self.aws, self.gcp], settings=SETTINGS, clock=self.clock, replicate=False)

    def state(self, store: FaultyStore) -> HealthState:
        return self.storage.health[store.name].state


@pytest.fixture
def two() -> Iterator[Two]:
    made = Two()
    yield made
    made.storage.close()


def test_after_a_blip_that_opened_every_circuit_the_next_put_succeeds(two: Two) -> None:
    two.aws.fail(refused())
    two.gcp.fail(refused())
    with pytest.raises(AllProvidersFailed):
        two.storage.put("k", b"during the blip")
    two.aws.heal()
    two.gcp.heal()
    two.clock.advance(1.0)  # the first probe is due in 30 s
    assert two.storage.put("k", b"after").version is not None
    assert two.aws.inner.get_bytes("k") == b"after", "the store whose circuit opened first was not asked"


def test_a_read_whose_only_up_to_date_store_is_down_asks_it_before_stale_read_risk(two: Two) -> None:
    two.storage.put("k", b"v1")
    two.aws.fail(refused())
    two.storage.put("k", b"v2")  # on gcp only: aws is pending for k, and DOWN
    two.gcp.fail(refused())
    with pytest.raises(AllProvidersFailed):
        two.storage.head("other")  # gcp's circuit opens too
    two.gcp.heal()  # a blip: gcp is back before its probe
    assert two.storage.get_bytes("k") == b"v2", "StaleReadRisk although the store with v2 was back"
    assert two.state(two.gcp) is HealthState.PROBING
