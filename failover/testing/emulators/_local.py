"""`LocalClouds`: the chosen emulators, started together, stopped together."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Self, TypeVar

from failover.testing.emulators._base import Emulator
from failover.testing.emulators._services import Azurite, FakeGcsServer, MotoServer, PubSubEmulator
from failover.testing.emulators._tools import EmulatorError

__all__ = ["SERVICES", "LocalClouds"]

SERVICES: Mapping[str, type[Emulator]] = MappingProxyType(
    {"aws": MotoServer, "gcs": FakeGcsServer, "azure": Azurite, "pubsub": PubSubEmulator}
)

E = TypeVar("E", bound=Emulator)


def _each_in_thread(emulators: Iterable[Emulator], action: Callable[[Emulator], object]) -> list[BaseException]:
    # Threads, not a pool: each action mostly waits on a subprocess, and start-up is then the slowest one.
    errors: list[BaseException] = []

    def run(emulator: Emulator) -> None:
        try:
            action(emulator)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(emulator,), name=f"failover-{emulator.name}") for emulator in emulators
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class LocalClouds:
    """Local emulators of the chosen services, as a context manager.

    ``services`` picks among ``"aws"`` (moto: S3 and SQS), ``"gcs"`` (fake-gcs-server), ``"azure"``
    (Azurite: Blob and Queue) and ``"pubsub"``. They start concurrently; if one fails, the others are
    stopped and the error is raised. `stop`, `start`, `pause` and `resume` act on one service, which is
    how a test scripts an outage and a recovery; a restarted service comes back on the same port.
    """

    def __init__(
        self,
        services: Iterable[str] = ("aws", "gcs", "azure", "pubsub"),
        log_dir: Path | None = None,
        *,
        start_timeout: float = 60.0,
    ) -> None:
        chosen = list(dict.fromkeys(services))
        unknown = [service for service in chosen if service not in SERVICES]
        if unknown:
            raise ValueError(f"unknown services {unknown}; choose among {sorted(SERVICES)}")
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="failover-clouds-"))
        self._emulators: dict[str, Emulator] = {
            service: SERVICES[service](log_dir=self.log_dir, start_timeout=start_timeout) for service in chosen
        }
        self._started: set[str] = set()

    @property
    def emulators(self) -> Mapping[str, Emulator]:
        """The chosen emulators by service name, started or not."""
        return MappingProxyType(self._emulators)

    def _get(self, service: str, kind: type[E]) -> E:
        emulator = self._emulators.get(service)
        if emulator is None or service not in self._started:
            raise EmulatorError(
                f"{service!r} is not started in these LocalClouds (services: {sorted(self._emulators)}, "
                f"started: {sorted(self._started)})"
            )
        assert isinstance(emulator, kind)
        return emulator

    # A stopped service stays reachable here (its endpoint is still where it will come back).
    @property
    def aws(self) -> MotoServer:
        return self._get("aws", MotoServer)

    @property
    def gcs(self) -> FakeGcsServer:
        return self._get("gcs", FakeGcsServer)

    @property
    def azure(self) -> Azurite:
        return self._get("azure", Azurite)

    @property
    def pubsub(self) -> PubSubEmulator:
        return self._get("pubsub", PubSubEmulator)

    def _emulator(self, service: str) -> Emulator:
        try:
            return self._emulators[service]
        except KeyError:
            raise EmulatorError(f"{service!r} is not one of these LocalClouds: {sorted(self._emulators)}") from None

    def start_all(self) -> Self:
        """Start every chosen service at once; if any fails, stop them all and raise its error."""
        errors = _each_in_thread(self._emulators.values(), lambda emulator: emulator.start())
        if errors:
            self.stop_all()
            if len(errors) > 1:
                others = "\n".join(f"  also: {error}" for error in errors[1:])
                raise EmulatorError(f"{errors[0]}\n{others}") from errors[0]
            raise errors[0]
        self._started.update(self._emulators)
        return self

    def stop_all(self) -> None:
        """Stop every service (in parallel: some take a grace period to exit)."""
        errors = _each_in_thread(self._emulators.values(), lambda emulator: emulator.stop())
        if errors:
            raise errors[0]

    def start(self, service: str) -> None:
        self._emulator(service).start()
        self._started.add(service)

    def stop(self, service: str) -> None:
        self._emulator(service).stop()

    def pause(self, service: str) -> None:
        self._emulator(service).pause()

    def resume(self, service: str) -> None:
        self._emulator(service).resume()

    def __enter__(self) -> Self:
        return self.start_all()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def __repr__(self) -> str:
        return f"<LocalClouds {self._emulators}>"
