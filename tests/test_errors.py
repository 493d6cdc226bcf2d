"""One family of errors: every exception class icpkit defines is an ``IcpkitError``, so the
command line handles them all in one place (a message and a hint, never a traceback)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import icpkit
from icpkit.errors import IcpkitError


def test_every_exception_class_icpkit_defines_is_an_icpkit_error() -> None:
    outside: list[str] = []
    for info in pkgutil.walk_packages(icpkit.__path__, "icpkit."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not issubclass(obj, IcpkitError)
            ):
                outside.append(f"{module.__name__}.{name}")
    assert outside == []


def test_an_error_keeps_its_message_and_hint() -> None:
    error = IcpkitError("deals.csv: no header", hint="export with a header row")
    assert str(error) == "deals.csv: no header" and error.hint == "export with a header row"
