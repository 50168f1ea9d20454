"""A put reads its body once to hash it; a seekable file in primary mode once more per store it is sent to."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO, cast

import pytest

from tests.unit.storage_rig import Rig

SIZE = 3 * 1024 * 1024 + 17  # several chunks, and an odd tail


class Counting(io.RawIOBase):
    """A file that counts the bytes read from it (each pass over the data adds ``size``)."""

    def __init__(self, data: bytes, *, seekable: bool) -> None:
        self._inner = io.BytesIO(data)
        self._seekable = seekable
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        if not self._seekable:
            raise OSError("not seekable")
        return self._inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise OSError("not seekable")
        return self._inner.seek(offset, whence)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._inner.readinto(buffer)
        self.bytes_read += count
        return count

    def passes(self) -> float:
        return self.bytes_read / SIZE


def _body(seekable: bool) -> Counting:
    return Counting(bytes(range(256)) * (SIZE // 256) + b"t" * (SIZE % 256), seekable=seekable)


@pytest.mark.parametrize(
    ("names", "mode", "seekable", "passes"),
    [
        pytest.param(("aws", "gcp"), "primary", False, 1, id="primary-stream"),
        pytest.param(("aws", "gcp"), "primary", True, 2, id="primary-file"),
        pytest.param(("aws", "gcp", "azure"), "mirror", False, 1, id="mirror-3-stream"),
        pytest.param(("aws", "gcp", "azure"), "mirror", True, 1, id="mirror-3-file"),
    ],
)
def test_a_put_reads_its_source_once_or_a_seekable_file_once_more_per_store_in_primary_mode(
    names: tuple[str, ...], mode: str, seekable: bool, passes: int
) -> None:
    made = Rig(names, mode=mode)
    body = _body(seekable)
    try:
        info = made.storage.put("k", cast(BinaryIO, body))
        assert body.passes() == passes, f"the source was read {body.passes():.2f} times"
        assert info.size == SIZE
        assert made.stores[names[0]].inner.get_bytes("k") == body._inner.getvalue()
    finally:
        made.close()


class _CountingHash:
    """hashlib.sha256, counting the bytes it is fed."""

    fed = 0

    def __init__(self, data: bytes = b"") -> None:
        self._hash = _SHA256()
        self.update(data)

    def update(self, data: bytes) -> None:
        _CountingHash.fed += len(data)
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


_SHA256 = hashlib.sha256


def test_a_mirror_put_of_bytes_hashes_them_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made = Rig(("aws", "gcp", "azure"), mode="mirror")
    monkeypatch.setattr(hashlib, "sha256", _CountingHash)
    _CountingHash.fed = 0
    try:
        made.storage.put("k", b"x" * 1000)
        assert _CountingHash.fed == 1000, f"{_CountingHash.fed} bytes hashed for a 1000-byte body"
    finally:
        made.close()
