"""The frame of every adapter's error edge: which exceptions are the SDK's, and the context manager
that raises failover's error in their place.

What an SDK's exception means is each provider's own table (``aws/_errors.py``, ``gcp/_errors.py``,
``azure/_errors.py``); how it is raised, ``from`` the SDK's exception, is the same for all and lives here.
"""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec

__all__ = ["from_packages", "translating"]

P = ParamSpec("P")


def from_packages(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """Whether ``exc`` comes from one of ``packages`` (a class in its MRO does) or from the network stack
    beneath them (an `OSError`, an `http.client.HTTPException`): an error the adapter must translate."""
    if isinstance(exc, OSError | http.client.HTTPException):
        return True
    return any(cls.__module__.split(".")[0] in packages for cls in type(exc).__mro__)


def translating(
    translate: Callable[Concatenate[BaseException, P], BaseException],
) -> Callable[P, contextlib.AbstractContextManager[None]]:
    """An adapter's ``translate_errors``, from its ``translate``: a context manager, taking the arguments
    ``translate`` takes after the exception, to put around every SDK call. It raises what ``translate``
    makes of an exception, ``from`` it; one ``translate`` returns unchanged (a bug, a failover error)
    propagates as it is."""

    def translate_errors(*args: P.args, **kwargs: P.kwargs) -> contextlib.AbstractContextManager[None]:
        return _raising(lambda exc: translate(exc, *args, **kwargs))

    return translate_errors


@contextlib.contextmanager
def _raising(translate: Callable[[Exception], BaseException]) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc
