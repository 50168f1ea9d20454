"""Every failure of the Azure adapters becomes the right failover error, with the SDK's as its cause.

Real failures only: Azurite for the service's own answers, a closed port, a name that does not
resolve, a port that accepts and never answers. The statuses Azurite never sends (5xx, 429, a body
cut mid-stream) are in test_azure_http_errors.py.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import pytest

from failover.adapters.azure import AzureBlobStore, AzureQueue
from failover.adapters.azure.queue import AzureReceipt
from failover.errors import (
    AccessDenied,
    Disposition,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    ProviderUnavailable,
    Reason,
)
from failover.interfaces import Message
from failover.testing.emulators import AZURITE_KEY, Azurite
from tests.adapters.azure_support import BLOB_CALLS, assert_from_azure, blob_at, queue_at
from tests.support import UNRESOLVABLE_HOST, blackhole_port, closed_port

pytestmark = pytest.mark.emulator

WRONG_KEY = AZURITE_KEY[:-4] + "AAA="


# --- the service's own answers, from Azurite -------------------------------------------------------


@pytest.mark.parametrize("operation", ["get", "head", "copy"])
def test_missing_key_raises_not_found(store: AzureBlobStore, operation: str) -> None:
    with pytest.raises(NotFound) as caught:
        BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.key == "k", f"the error names key {caught.value.key!r}"


@pytest.mark.parametrize("operation", ["put", "get", "head", "delete", "list"])
def test_missing_container_fails_over_as_no_bucket(azurite: Azurite, unique_name: str, operation: str) -> None:
    store = AzureBlobStore(azurite.azure_blob_config(unique_name, ensure=False))
    with pytest.raises(ProviderUnavailable) as caught:
        BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert (caught.value.reason, caught.value.disposition) == (Reason.NO_BUCKET, Disposition.FAILOVER)


@pytest.mark.parametrize("size", [10, 200 * 1024], ids=["single-put", "staged-blocks"])
def test_create_over_existing_key_raises_precondition_failed(azurite: Azurite, unique_name: str, size: int) -> None:
    store = AzureBlobStore(azurite.azure_blob_config(unique_name, block_size=64 * 1024))
    store.put("k", b"first")
    with pytest.raises(PreconditionFailed) as caught:
        store.put("k", b"x" * size, if_none_match="*")
    assert_from_azure(caught.value, "put")
    assert store.get_bytes("k") == b"first", "a failed conditional create overwrote the object"


@pytest.mark.parametrize("size", [10, 200 * 1024], ids=["single-put", "staged-blocks"])
def test_update_with_stale_etag_raises_precondition_failed(azurite: Azurite, unique_name: str, size: int) -> None:
    store = AzureBlobStore(azurite.azure_blob_config(unique_name, block_size=64 * 1024))
    stale = store.put("k", b"v1").etag
    store.put("k", b"v2")
    assert stale is not None
    with pytest.raises(PreconditionFailed) as caught:
        store.put("k", b"x" * size, if_match=stale)
    assert_from_azure(caught.value, "put")


def test_update_of_missing_key_with_if_match_raises_precondition_failed(store: AzureBlobStore) -> None:
    etag = store.put("other", b"v").etag
    assert etag is not None
    with pytest.raises(PreconditionFailed):
        store.put("k", b"v", if_match=etag)


@pytest.mark.parametrize("operation", ["put", "get", "list"])
def test_wrong_account_key_raises_access_denied(azurite: Azurite, unique_name: str, operation: str) -> None:
    # Azurite checks shared-key signatures: a wrong key is refused with 403 AuthorizationFailure.
    store = AzureBlobStore(
        azurite.azure_blob_config(
            unique_name, ensure=False, account_key=WRONG_KEY, account_url=azurite.blob_endpoint, connection_string=None
        )
    )
    with pytest.raises(AccessDenied) as caught:
        BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.disposition is Disposition.FAILOVER, "bad credentials must move traffic elsewhere"
    assert caught.value.reason is Reason.AUTH, "bad credentials are the provider down for us, not one refusal"


# --- the network's failures --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", list(BLOB_CALLS))
def test_refused_connection_raises_provider_unavailable_refused(
    azurite: Azurite, unique_name: str, operation: str
) -> None:
    store = blob_at(azurite, unique_name, "127.0.0.1", closed_port())
    with pytest.raises(ProviderUnavailable) as caught:
        BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is Reason.REFUSED, f"reason {caught.value.reason}"
    assert caught.value.disposition is Disposition.FAILOVER


@pytest.mark.parametrize("operation", list(BLOB_CALLS))
def test_unresolvable_host_raises_provider_unavailable_dns(azurite: Azurite, unique_name: str, operation: str) -> None:
    store = blob_at(azurite, unique_name, UNRESOLVABLE_HOST, 10000)
    with pytest.raises(ProviderUnavailable) as caught:
        BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is Reason.DNS, f"reason {caught.value.reason}"
    assert caught.value.disposition is Disposition.FAILOVER


@pytest.mark.parametrize("operation", ["get", "head", "list"])
def test_read_with_no_answer_raises_provider_unavailable_read_timeout(
    azurite: Azurite, unique_name: str, operation: str
) -> None:
    with blackhole_port() as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port, read_timeout=0.5)
        with pytest.raises(ProviderUnavailable) as caught:
            BLOB_CALLS[operation](store)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is Reason.READ_TIMEOUT, f"reason {caught.value.reason}"


@pytest.mark.parametrize("operation", ["put", "delete", "copy"])
def test_write_with_no_answer_raises_outcome_unknown(azurite: Azurite, unique_name: str, operation: str) -> None:
    with blackhole_port() as port:
        store = blob_at(azurite, unique_name, "127.0.0.1", port)
        calls: dict[str, Callable[[], object]] = {
            "put": lambda: store.put("k", b"v", timeout=0.5),
            "delete": lambda: store.delete("k", timeout=0.5),
            "copy": lambda: store.copy("k", "k2", timeout=0.5),
        }
        with pytest.raises(OutcomeUnknown) as caught:
            calls[operation]()
    assert_from_azure(caught.value, operation)


def test_put_with_bad_key_is_refused_before_any_network_call(azurite: Azurite, unique_name: str) -> None:
    store = blob_at(azurite, unique_name, "127.0.0.1", closed_port())
    with pytest.raises(InvalidRequest) as caught:
        store.put("bad/../key", b"v")
    assert caught.value.__cause__ is None, "validation met the network"


# --- queues --------------------------------------------------------------------------------------------


def test_missing_queue_raises_not_found(azurite: Azurite, unique_name: str) -> None:
    queue = AzureQueue(azurite.azure_queue_config(unique_name, ensure=False))
    with pytest.raises(NotFound) as caught:
        queue.send(b"x")
    assert_from_azure(caught.value, "send")
    with pytest.raises(NotFound) as caught:
        queue.receive(1)
    assert_from_azure(caught.value, "receive")


def test_ack_with_pop_receipt_replaced_by_extend_raises_not_found(queue: AzureQueue) -> None:
    queue.send(b"x")
    [message] = queue.receive(1, wait=5, visibility=30)
    stale = _copy_of_receipt(message)
    queue.extend(message, 30)
    with pytest.raises(NotFound) as caught:
        queue.ack(stale)
    assert_from_azure(caught.value, "ack")
    queue.ack(message)


def test_ack_of_already_deleted_message_raises_not_found(queue: AzureQueue) -> None:
    queue.send(b"x")
    [message] = queue.receive(1, wait=5)
    queue.ack(message)
    with pytest.raises(NotFound) as caught:
        queue.ack(message)
    assert_from_azure(caught.value, "ack")


def test_ack_with_garbage_pop_receipt_raises_not_found(queue: AzureQueue) -> None:
    # Azurite answers 400 PopReceiptMismatch to a receipt it never issued.
    queue.send(b"x")
    [message] = queue.receive(1, wait=5)
    forged = _copy_of_receipt(message)
    assert isinstance(forged.receipt, AzureReceipt)
    forged.receipt.pop_receipt = "AAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(NotFound):
        queue.ack(forged)


def test_message_from_another_queue_is_refused_before_any_call(
    queue: AzureQueue, azurite: Azurite, unique_name: str
) -> None:
    other = AzureQueue(azurite.azure_queue_config(unique_name + "-other"))
    other.send(b"x")
    [message] = other.receive(1, wait=5)
    with pytest.raises(InvalidRequest):
        queue.ack(message)
    other.ack(message)
    other.close()


def test_wrong_account_key_on_queue_raises_access_denied(azurite: Azurite, unique_name: str) -> None:
    config = azurite.azure_queue_config(
        unique_name, ensure=False, connection_string=None, account_url=azurite.queue_endpoint, account_key=WRONG_KEY
    )
    with pytest.raises(AccessDenied) as caught:
        AzureQueue(config).send(b"x")
    assert_from_azure(caught.value, "send")


@pytest.mark.parametrize(("host", "reason"), [("127.0.0.1", Reason.REFUSED), (UNRESOLVABLE_HOST, Reason.DNS)])
@pytest.mark.parametrize("operation", ["send", "receive"])
def test_unreachable_queue_raises_provider_unavailable(
    azurite: Azurite, unique_name: str, host: str, reason: Reason, operation: str
) -> None:
    queue = queue_at(azurite, unique_name, host, closed_port())
    with pytest.raises(ProviderUnavailable) as caught:
        queue.send(b"x") if operation == "send" else queue.receive(1)
    assert_from_azure(caught.value, operation)
    assert caught.value.reason is reason, f"reason {caught.value.reason}"
    assert caught.value.disposition is Disposition.FAILOVER


def test_queue_send_with_no_answer_raises_outcome_unknown(azurite: Azurite, unique_name: str) -> None:
    with blackhole_port() as port:
        queue = queue_at(azurite, unique_name, "127.0.0.1", port)
        with pytest.raises(OutcomeUnknown) as caught:
            queue.send(b"x", timeout=0.5)
    assert_from_azure(caught.value, "send")


def test_queue_receive_with_no_answer_raises_provider_unavailable_read_timeout(
    azurite: Azurite, unique_name: str
) -> None:
    with blackhole_port() as port:
        queue = queue_at(azurite, unique_name, "127.0.0.1", port, read_timeout=0.5)
        with pytest.raises(ProviderUnavailable) as caught:
            queue.receive(1)
    assert_from_azure(caught.value, "receive")
    assert caught.value.reason is Reason.READ_TIMEOUT


def _copy_of_receipt(message: Message) -> Message:
    """The message with a receipt of its own: what a caller holding an older copy would pass."""
    return dataclasses.replace(message, receipt=copy.copy(message.receipt))
