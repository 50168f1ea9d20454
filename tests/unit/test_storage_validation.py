"""FailoverStorage checks every request before any store is called."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from failover.adapters.memory import MemoryStore
from failover.errors import ConfigError, InvalidRequest
from failover.interfaces import Capabilities
from failover.keys import MAX_USER_METADATA_BYTES
from failover.storage import FailoverStorage
from failover.testing.faulty import FaultyStore
from tests.unit.storage_rig import SETTINGS

Call = Callable[[FailoverStorage], object]

INVALID: dict[str, Call] = {
    "empty key": lambda storage: storage.put("", b"v"),
    "dot segment": lambda storage: storage.put("a/../b", b"v"),
    "control character": lambda storage: storage.put("a\nb", b"v"),
    "reserved metadata": lambda storage: storage.put("k", b"v", metadata={"failover_version": "x"}),
    "reserved sha256": lambda storage: storage.put("k", b"v", metadata={"failover_sha256": "x"}),
    "metadata name": lambda storage: storage.put("k", b"v", metadata={"Bad-Name": "x"}),
    "metadata value": lambda storage: storage.put("k", b"v", metadata={"name": "caf\u00e9"}),
    "metadata size": lambda storage: storage.put("k", b"v", metadata={"big": "x" * 3000}),
    "content type": lambda storage: storage.put("k", b"v", content_type="text/\u00e9"),
    "if_none_match value": lambda storage: storage.put("k", b"v", if_none_match="etag"),  # type: ignore[arg-type]
    "both conditions": lambda storage: storage.put("k", b"v", if_none_match="*", if_match='"1"'),
    "empty if_match": lambda storage: storage.put("k", b"v", if_match=""),
    "too large bytes": lambda storage: storage.put("k", b"x" * 65),
    "too large stream": lambda storage: storage.put("k", io.BytesIO(b"x" * 65)),
    "get key": lambda storage: storage.get("a//b"),
    "get range": lambda storage: storage.get("k", byte_range=(5, 2)),
    "get_bytes range": lambda storage: storage.get_bytes("k", byte_range=(-1, None)),
    "head key": lambda storage: storage.head("trailing/"),
    "delete key": lambda storage: storage.delete("."),
    "list prefix": lambda storage: storage.list(3),  # type: ignore[arg-type]
    "list delimiter": lambda storage: storage.list("", delimiter=""),
    "copy source": lambda storage: storage.copy("", "dst"),
    "copy destination": lambda storage: storage.copy("src", "dst/"),
    "noncharacter key": lambda storage: storage.put("a\ufffe", b"v"),
    "noncharacter fdd0 key": lambda storage: storage.get_bytes("a\ufdd0"),
    "lone surrogate key": lambda storage: storage.head("a\udc00"),
    "str body": lambda storage: storage.put("k", "text"),  # type: ignore[arg-type]
    "None body": lambda storage: storage.put("k", None),  # type: ignore[arg-type]
    "int body": lambda storage: storage.put("k", 3),  # type: ignore[arg-type]
    "list body": lambda storage: storage.put("k", [b"v"]),  # type: ignore[arg-type]
    "text stream body": lambda storage: storage.put("k", io.StringIO("text")),  # type: ignore[arg-type]
    "allow_stale str on get": lambda storage: storage.get("k", allow_stale="no"),  # type: ignore[arg-type]
    "allow_stale str on get_bytes": lambda storage: storage.get_bytes("k", allow_stale="no"),  # type: ignore[arg-type]
    "allow_stale int on head": lambda storage: storage.head("k", allow_stale=1),  # type: ignore[arg-type]
    "bool range": lambda storage: storage.get_bytes("k", byte_range=(True, None)),
    "bool range stop": lambda storage: storage.get("k", byte_range=(0, True)),
    "negative range stop": lambda storage: storage.get("k", byte_range=(0, -1)),
    "metadata over the user limit": lambda storage: storage.put(
        "k", b"v", metadata={"a": "x" * MAX_USER_METADATA_BYTES}
    ),
    **{
        f"{name} timeout {label}": partial(call, timeout=bad)
        for name, call in {
            "put": lambda storage, **kw: storage.put("k", b"v", **kw),
            "get": lambda storage, **kw: storage.get("k", **kw),
            "get_bytes": lambda storage, **kw: storage.get_bytes("k", **kw),
            "head": lambda storage, **kw: storage.head("k", **kw),
            "delete": lambda storage, **kw: storage.delete("k", **kw),
            "list": lambda storage, **kw: storage.list("", **kw),
            "copy": lambda storage, **kw: storage.copy("k", "k2", **kw),
            "drain": lambda storage, **kw: storage.drain(**kw),
        }.items()
        for label, bad in {"str": "3", "nan": float("nan"), "negative": -1.0, "bool": True}.items()
    },
}


class Small:
    """Two faulty memory stores that take objects of at most 64 bytes (the smaller) and 128."""

    def __init__(self) -> None:
        self.stores = {
            "aws": FaultyStore(MemoryStore("aws", capabilities=Capabilities(max_object_size=128))),
            "gcp": FaultyStore(MemoryStore("gcp", capabilities=Capabilities(max_object_size=64))),
        }
        self.storage = FailoverStorage(list(self.stores.values()), settings=SETTINGS, replicate=False)


@pytest.fixture
def small() -> Iterator[Small]:
    made = Small()
    yield made
    made.storage.close()


@pytest.mark.parametrize("call", INVALID.values(), ids=INVALID.keys())
def test_invalid_request_is_refused_before_any_store_is_called(small: Small, call: Call) -> None:
    with pytest.raises(InvalidRequest) as caught:
        call(small.storage)
    assert caught.value.rule, "the error does not name the rule it broke"
    assert {name: store.total_calls for name, store in small.stores.items()} == {"aws": 0, "gcp": 0}
    assert small.storage.journal.backlog() == {}


def test_the_size_limit_is_the_smallest_stores(small: Small) -> None:
    with pytest.raises(InvalidRequest) as caught:
        small.storage.put("k", b"x" * 65)
    assert caught.value.rule == "object.max_size"
    assert small.storage.capabilities.max_object_size == 64
    small.storage.put("k", b"x" * 64)


def test_text_mode_file_body_is_refused_before_any_store_is_called(small: Small, tmp_path: Path) -> None:
    path = tmp_path / "body.txt"
    path.write_text("text")
    with path.open("r") as text, pytest.raises(InvalidRequest) as caught:
        small.storage.put("k", text)  # type: ignore[arg-type]
    assert caught.value.rule == "body.type"
    assert {name: store.total_calls for name, store in small.stores.items()} == {"aws": 0, "gcp": 0}


def test_a_stream_that_reads_text_is_refused_before_any_store_is_called(small: Small) -> None:
    class Texty(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> Any:
            return "text"

    with pytest.raises(InvalidRequest) as caught:
        small.storage.put("k", Texty())  # type: ignore[arg-type]
    assert caught.value.rule == "body.type"
    assert {name: store.total_calls for name, store in small.stores.items()} == {"aws": 0, "gcp": 0}


@pytest.mark.parametrize("quorum", [True, 1.5, "2"], ids=["bool", "float", "str"])
def test_a_write_quorum_that_is_no_count_is_a_config_error(quorum: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        FailoverStorage([MemoryStore("a"), MemoryStore("b")], mode="mirror", write_quorum=quorum, replicate=False)
    assert caught.value.field == "write_quorum"
