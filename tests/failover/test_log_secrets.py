"""With DEBUG on every logger, a failover group whose Azure endpoint (signed with a SAS) refuses every
call and whose AWS endpoint carries a session token logs its puts, gets, sends and receives, and its
failovers, without one credential in any record: message, arguments or traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

from failover.testing.emulators import LocalClouds
from tests.failover.refused_support import refused_queue, refused_storage

pytestmark = pytest.mark.emulator


class DebugEverywhere:
    """The root logger at DEBUG, and `on` puts every logger that exists by then at DEBUG too."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.saved: dict[str, int] = {}
        caplog.set_level(logging.DEBUG)

    def on(self) -> None:
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and name not in self.saved:
                self.saved[name] = logger.level
                logger.setLevel(logging.DEBUG)

    def restore(self) -> None:
        for name, level in self.saved.items():
            logging.getLogger(name).setLevel(level)

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.caplog.records


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> Iterator[DebugEverywhere]:
    everywhere = DebugEverywhere(caplog)
    yield everywhere
    everywhere.restore()


def _text(record: logging.LogRecord) -> str:
    """Everything a handler could print of ``record``: its message and its traceback."""
    text = record.getMessage()
    if record.exc_text:
        text += record.exc_text
    elif record.exc_info and record.exc_info[1] is not None:
        text += "".join(traceback.format_exception(record.exc_info[1]))
    return text


def _leaks(records: list[logging.LogRecord], secrets: list[str]) -> list[str]:
    return [f"{record.name}: {_text(record)[:400]}" for record in records if any(s in _text(record) for s in secrets)]


def test_storage_failing_over_from_a_sas_signed_azure_logs_no_credential(
    local_clouds: LocalClouds, unique_name: str, debug: DebugEverywhere
) -> None:
    storage, secrets = refused_storage(local_clouds, unique_name)
    debug.on()  # the SDKs' loggers exist once the adapters are built
    try:
        storage.put("secret-test", b"body", timeout=5.0)
        assert storage.get_bytes("secret-test") == b"body"
    finally:
        storage.close()
    records = debug.records
    names = {record.name.split(".")[0] for record in records}
    assert {"failover", "botocore", "urllib3", "azure"} <= names, f"DEBUG was not on everywhere: {names}"
    assert any("failed over" in record.getMessage() for record in records), "no failover was logged"
    assert not _leaks(records, secrets.all())


def test_queue_failing_over_from_a_sas_signed_azure_logs_no_credential(
    local_clouds: LocalClouds, unique_name: str, debug: DebugEverywhere
) -> None:
    queue, secrets = refused_queue(local_clouds, unique_name)
    debug.on()  # the SDKs' loggers exist once the adapters are built
    try:
        queue.send(b"secret-test", timeout=5.0)
        received = queue.receive(max_messages=1, wait=2.0)
        assert [message.body for message in received] == [b"secret-test"]
        queue.ack(received[0])
    finally:
        queue.close()
    records = debug.records
    assert any("failed over" in record.getMessage() for record in records), "no failover was logged"
    assert not _leaks(records, secrets.all())
