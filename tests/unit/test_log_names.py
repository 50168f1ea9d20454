"""Everything the package logs goes through `logging` under ``failover.*``, and the redacting filter sits on
every logger that can carry a credential: the package's own and every logger the cloud SDKs create."""

from __future__ import annotations

import ast
import importlib
import logging
import pkgutil
from pathlib import Path

import failover
from failover._logging import FILTERED_LOGGERS, REDACTED, install, redacting_filter

PACKAGE = Path(failover.__file__).resolve().parent
_ROOT_CALLS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
# The one getLogger call whose name is not a literal: `install` fetches the SDKs' loggers to filter them.
_FETCHES_OTHERS = {("_logging.py", "install")}
# Loggers of libraries that never see a request or a credential (stdlib, parsing, settings, telemetry).
_NOTHING_TO_REDACT = frozenset(
    {
        "asyncio",
        "concurrent",
        "charset_normalizer",
        "dotenv",
        "pydantic_settings",
        "opentelemetry",
        "bcdocs",
        "_FileInfo",
    }
)
_ADAPTERS = ("aws.s3", "aws.sqs", "gcp.gcs", "gcp.pubsub", "azure.blob", "azure.queue")
_SDK_MODULES = (
    *("boto3.session", "google.cloud.storage", "google.cloud.pubsub_v1"),
    *("azure.identity", "azure.storage.blob", "azure.storage.queue"),
)


class _Calls(ast.NodeVisitor):
    """The ``logging.<function>(...)`` calls of one module, each with its innermost enclosing function."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.function = "<module>"
        self.found: list[tuple[str, str, ast.Call]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "logging":
            self.found.append((self.path, self.function, node))
        self.generic_visit(node)


def _logging_calls() -> list[tuple[str, str, ast.Call]]:
    """Every ``logging.<function>(...)`` call in the package: (file, enclosing function, call)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        calls = _Calls(str(path.relative_to(PACKAGE)))
        calls.visit(ast.parse(path.read_text(), filename=str(path)))
        found += calls.found
    return found


def _is_failover_name(argument: ast.expr) -> bool:
    if isinstance(argument, ast.Name):
        return argument.id == "__name__"  # a module of the package: failover.<module>
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value == "failover" or argument.value.startswith("failover.")
    return False


def test_every_logger_the_package_creates_is_named_failover() -> None:
    wrong = [
        f"{path}:{call.lineno} getLogger({ast.unparse(call.args[0]) if call.args else ''})"
        for path, function, call in _logging_calls()
        if isinstance(call.func, ast.Attribute)
        and call.func.attr == "getLogger"
        and (Path(path).name, function) not in _FETCHES_OTHERS
        and not (call.args and _is_failover_name(call.args[0]))
    ]
    assert not wrong, f"loggers outside failover.*: {wrong}"


def test_nothing_in_the_package_logs_on_the_root_logger() -> None:
    root = [
        f"{path}:{call.lineno} logging.{call.func.attr}"
        for path, _, call in _logging_calls()
        if isinstance(call.func, ast.Attribute) and call.func.attr in _ROOT_CALLS
    ]
    assert not root, f"calls that log on the root logger, outside failover.*: {root}"


def _import_everything() -> None:
    for module in pkgutil.walk_packages([str(PACKAGE)], prefix="failover."):
        if not module.name.endswith("__main__"):  # a command line, run on import
            importlib.import_module(module.name)
    for adapter in _ADAPTERS:
        importlib.import_module(f"failover.adapters.{adapter}")
    for sdk in _SDK_MODULES:  # the adapters import their SDKs only when one is built
        importlib.import_module(sdk)


def test_the_redacting_filter_sits_on_every_logger_of_the_sdks_and_of_the_package() -> None:
    _import_everything()
    install()
    roots = {name.split(".")[0] for name in logging.root.manager.loggerDict}
    uncovered_roots = sorted(roots - set(FILTERED_LOGGERS) - _NOTHING_TO_REDACT)
    assert not uncovered_roots, (
        f"loggers the filter is not installed on (add them to FILTERED_LOGGERS): {uncovered_roots}"
    )
    unfiltered = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and name.split(".")[0] in FILTERED_LOGGERS
        and redacting_filter() not in logger.filters
    ]
    assert not unfiltered, f"loggers without the filter: {unfiltered}"


def test_a_credential_in_a_logged_traceback_is_redacted() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)
            records.append(record)

    logger = logging.getLogger("failover.test-traceback")
    install()
    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ConnectionError("Max retries exceeded with url: /acct/c/k?sv=2024&sig=TopSecretSignature123")
        except ConnectionError:
            logger.exception("a call failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (record,) = records
    assert record.exc_text is not None
    assert "TopSecretSignature123" not in record.exc_text
    assert f"sig={REDACTED}" in record.exc_text
