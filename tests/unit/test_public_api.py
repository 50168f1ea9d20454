"""The public API is exactly what `failover.__all__` names, and importing it loads no cloud SDK."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import failover

EXPECTED_PUBLIC_NAMES = {
    "EngineSettings",
    "HealthState",
    "FailoverQueue",
    "HedgePolicy",
    "FailoverStorage",
    "S3Store",
    "SqsQueue",
    "AzureBlobStore",
    "AzureQueue",
    "GcsStore",
    "PubSubQueue",
    "MemoryQueue",
    "MemoryStore",
    "AccessDenied",
    "AllProvidersFailed",
    "AzureBlobConfig",
    "AzureQueueConfig",
    "Capabilities",
    "CommonPrefix",
    "ConfigError",
    "Disposition",
    "FailoverConfig",
    "FailoverError",
    "GcsConfig",
    "InvalidRequest",
    "JournalError",
    "ListEntry",
    "Message",
    "MessageId",
    "MessageQueue",
    "NotFound",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "OutcomeUnknown",
    "OutgoingMessage",
    "PreconditionFailed",
    "ProviderError",
    "ProviderUnavailable",
    "PubSubConfig",
    "QueueCapabilities",
    "Reason",
    "S3Config",
    "SendResult",
    "SqsConfig",
    "StaleReadRisk",
    "IntegrityError",
    "EncryptedStorage",
    "EncryptedQueue",
    "AwsKmsKey",
    "Keyring",
    "KeyProvider",
    "LocalKey",
    "__version__",
    "load_config",
}


def test_all_names_exactly_the_public_api() -> None:
    assert set(failover.__all__) == EXPECTED_PUBLIC_NAMES
    assert len(failover.__all__) == len(set(failover.__all__)), "duplicates in __all__"


def test_every_public_name_resolves() -> None:
    missing = [name for name in failover.__all__ if not hasattr(failover, name)]
    assert missing == []


_BLOCK_SDKS = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("boto3", "botocore", "google", "azure", "grpc")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run_blocked(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_SDKS + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_failover_with_every_sdk_blocked_works_and_loads_none() -> None:
    result = _run_blocked(
        """
        import failover, failover.testing
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("LOADED", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_each_adapter_names_its_extra_when_its_sdk_is_missing() -> None:
    result = _run_blocked(
        """
        import failover
        from failover import AzureBlobConfig as Blob, AzureQueueConfig as AzQueue, PubSubConfig as PubSub
        cases = [
            (failover.S3Store, failover.S3Config(bucket="abc"), "failover[aws]"),
            (failover.SqsQueue, failover.SqsConfig(queue="abc"), "failover[aws]"),
            (failover.GcsStore, failover.GcsConfig(bucket="abc", anonymous=True), "failover[gcp]"),
            (failover.PubSubQueue, PubSub(project="abc", topic="abc", subscription="abc"), "failover[gcp]"),
            (failover.AzureBlobStore, Blob(container="abc", account_url="http://x"), "failover[azure]"),
            (failover.AzureQueue, AzQueue(queue="abc", account_url="http://x"), "failover[azure]"),
        ]
        for cls, config, extra in cases:
            try:
                cls(config)
            except failover.ConfigError as exc:
                assert extra in str(exc), (cls.__name__, str(exc))
                print("OK", cls.__name__)
            else:
                raise AssertionError(f"{cls.__name__} built without its SDK")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("OK ") == 6, result.stdout
