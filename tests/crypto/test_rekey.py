"""Key rotation: `rekey` rewrites what is under old keys; `failover rekey` does it with a progress bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.adapters.memory import MemoryStore
from failover.cli import main
from failover.crypto import EncryptedStorage, Keyring
from failover.crypto._format import HEADER_NAME, Header
from failover.crypto.rekey import rekey
from failover.testing.emulators import LocalClouds
from tests.cli.support import write_config
from tests.crypto.support import KEY_A, KEY_B, keyring


def _key_ids(inner: MemoryStore) -> dict[str, str]:
    return {
        entry.key: Header.decode(inner.head(entry.key).metadata[HEADER_NAME], key=entry.key).key_id
        for entry in inner.list()
        if hasattr(entry, "key")
    }


def test_rekey_moves_every_object_under_the_prefix_to_the_active_key_and_the_old_key_can_go() -> None:
    inner = MemoryStore()
    old = EncryptedStorage(inner, keyring("key-a"))
    for name in ("docs/1", "docs/2", "other/3"):
        old.put(name, name.encode() * 100, content_type="text/plain", metadata={"n": name[-1]})
    new = EncryptedStorage(inner, keyring("key-b"))
    report = rekey(new, "docs/")
    assert (report.scanned, report.rekeyed, report.by_key) == (2, 2, {"key-a": 2})
    assert _key_ids(inner) == {"docs/1": "key-b", "docs/2": "key-b", "other/3": "key-a"}
    only_b = EncryptedStorage(inner, Keyring([KEY_B], active="key-b"))
    assert only_b.get_bytes("docs/2") == b"docs/2" * 100
    assert dict(only_b.head("docs/1").metadata) == {"n": "1"}


def test_second_rekey_finds_nothing_left() -> None:
    inner = MemoryStore()
    EncryptedStorage(inner, keyring("key-a")).put("x", b"1")
    new = EncryptedStorage(inner, keyring("key-b"))
    rekey(new)
    again = rekey(new)
    assert (again.rekeyed, again.current) == (0, 1)


def test_dry_run_counts_and_writes_nothing() -> None:
    inner = MemoryStore()
    EncryptedStorage(inner, keyring("key-a")).put("x", b"1")
    report = rekey(EncryptedStorage(inner, keyring("key-b")), dry_run=True)
    assert report.by_key == {"key-a": 1}
    assert _key_ids(inner) == {"x": "key-a"}


def test_object_that_fails_its_check_is_reported_and_the_others_go_on() -> None:
    inner = MemoryStore()
    EncryptedStorage(inner, keyring("key-a")).put("good", b"1")
    inner.put("plain", b"never encrypted")
    inner.put("bad", b"0" * 40, metadata={HEADER_NAME: inner.head("good").metadata[HEADER_NAME]})
    report = rekey(EncryptedStorage(inner, keyring("key-b")))
    assert report.rekeyed == 1
    assert report.plaintext == ["plain"]
    assert [failure.split(":")[0] for failure in report.failed] == ["bad"]


def _keys_file(path: Path, active: str) -> Path:
    path.write_text(
        f'[encryption]\nactive = "{active}"\n[encryption.keys]\n'
        f'"key-a" = "{KEY_A.export().get_secret_value()}"\n"key-b" = "{KEY_B.export().get_secret_value()}"\n'
    )
    return path


@pytest.mark.emulator
def test_rekey_command_re_encrypts_on_the_configured_stores(
    local_clouds: LocalClouds, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from failover.adapters.aws.s3 import S3Store

    s3_config = local_clouds.aws.s3_config(unique_name, ensure=True)
    s3 = S3Store(s3_config)
    EncryptedStorage(s3, keyring("key-a")).put("orders/1", b"order one")
    config = write_config(tmp_path / "failover.toml", storage=[s3_config])
    keys = _keys_file(tmp_path / "keys.toml", "key-b")
    code = main(["rekey", "--config", str(config), "--keys", str(keys), "--prefix", "orders/"])
    output = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert code == 0, output
    assert "re-encrypted 1 (old: 1 under key-a)" in output, output
    header = Header.decode(s3.head("orders/1").metadata[HEADER_NAME], key="orders/1")
    assert header.key_id == "key-b"
    assert EncryptedStorage(s3, Keyring([KEY_B], active="key-b")).get_bytes("orders/1") == b"order one"
