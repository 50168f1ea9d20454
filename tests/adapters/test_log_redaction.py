"""With DEBUG logging on for every SDK, a put and a get on each emulator log no credential."""

from __future__ import annotations

import datetime
import json
import logging
from pathlib import Path

import pytest

from failover._logging import REDACTED, redacting_filter
from failover.interfaces import ObjectStore
from failover.testing.emulators import LocalClouds
from tests.adapters.support import Answer, AnsweringHandler, ServeHttp

pytestmark = pytest.mark.emulator

SESSION_TOKEN = "FwoGZXIvYXdzEBsaDSessionTokenValue/0123456789+abcdefSECRET"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSecretAccessKey"
ACCESS_TOKEN = "ya29.a0AfH6SMBearerTokenValue0123456789SECRET"


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def _round_trip(store: ObjectStore) -> None:
    store.put("secret-test", b"body", metadata={"team": "a"})
    assert store.get_bytes("secret-test") == b"body"
    store.delete("secret-test")


def _leaks(records: list[logging.LogRecord], secrets: list[str]) -> list[str]:
    assert len(records) > 5, "DEBUG logging was not captured: the test would prove nothing"
    found = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        found += [f"{record.name}: {text[:300]}" for secret in secrets if secret in text]
    return found


def test_s3_debug_logs_carry_no_session_token_or_secret_key(
    local_clouds: LocalClouds, unique_name: str, debug: pytest.LogCaptureFixture
) -> None:
    from failover.adapters.aws.s3 import S3Store

    config = local_clouds.aws.s3_config(
        unique_name, secret_access_key=SECRET_KEY, session_token=SESSION_TOKEN, ensure=True
    )
    store = S3Store(config)
    try:
        _round_trip(store)
    finally:
        store.close()
    assert not _leaks(debug.records, [SESSION_TOKEN, SECRET_KEY])
    assert any(REDACTED in record.getMessage() for record in debug.records), "nothing was redacted"


def test_azure_debug_logs_carry_no_sas_signature_or_account_key(
    local_clouds: LocalClouds, unique_name: str, debug: pytest.LogCaptureFixture
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from failover.adapters.azure.blob import AzureBlobStore

    azure = local_clouds.azure
    parts = dict(part.split("=", 1) for part in azure.connection_string.split(";") if part)
    AzureBlobStore(azure.azure_blob_config(unique_name, ensure=True)).close()
    sas = generate_container_sas(
        parts["AccountName"],
        unique_name,
        account_key=parts["AccountKey"],
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True, create=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    signature = next(field[4:] for field in sas.split("&") if field.startswith("sig="))
    config = azure.azure_blob_config(
        unique_name, connection_string=f"BlobEndpoint={azure.blob_endpoint};SharedAccessSignature={sas}", ensure=False
    )
    store = AzureBlobStore(config)
    try:
        _round_trip(store)
    finally:
        store.close()
    from urllib.parse import unquote

    assert not _leaks(debug.records, [signature, unquote(signature), parts["AccountKey"]])


class _TokenEndpoint(AnsweringHandler):
    def answer(self) -> Answer:
        body = json.dumps({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}).encode()
        return 200, {"Content-Type": "application/json"}, body, None


def test_gcs_debug_logs_carry_no_bearer_token_or_private_key(
    local_clouds: LocalClouds,
    unique_name: str,
    tmp_path: Path,
    serve_http: ServeHttp,
    debug: pytest.LogCaptureFixture,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from failover.adapters.gcp.gcs import GcsStore

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = tmp_path / "service-account.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "test",
                "private_key_id": "1",
                "private_key": pem,
                "client_email": "tester@test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": serve_http(_TokenEndpoint) + "/token",
            }
        )
    )
    config = local_clouds.gcs.gcs_config(unique_name, anonymous=False, credentials_file=credentials, ensure=True)
    store = GcsStore(config)
    try:
        _round_trip(store)
    finally:
        store.close()
    secret_line = pem.splitlines()[5]
    assert not _leaks(debug.records, [ACCESS_TOKEN, secret_line])


def test_the_filter_redacts_credential_headers_and_query_parameters() -> None:
    redact = redacting_filter().redact
    assert SESSION_TOKEN not in redact(f"{{'X-Amz-Security-Token': '{SESSION_TOKEN}', 'Host': 'h'}}")
    assert "abc123" not in redact("x-amz-security-token:abc123\nhost:h")
    assert "Credential=AKIA" not in redact("'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ff'")
    assert "c2lnbmF0dXJl" not in redact("GET /c/b?sv=2021&sig=c2lnbmF0dXJl%3D&se=2030 HTTP/1.1")
    assert ACCESS_TOKEN not in redact(f"Authorization: Bearer {ACCESS_TOKEN}")
    assert redact("GET /bucket/key HTTP/1.1 200") == "GET /bucket/key HTTP/1.1 200"
