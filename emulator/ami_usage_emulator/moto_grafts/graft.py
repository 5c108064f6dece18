"""How the emulator attaches its code to moto's classes.

moto looks an action up at request time as a plain function of its response class
(``camelcase_to_underscores(Action)``, found by ``inspect.isfunction``), on a response
object it creates for that request, parses the request through botocore's input shape
and serialises an ``ActionResult`` through the output shape.  A graft therefore cannot be
handed its stores through a constructor.  Each graft module has a handler object built
with its stores (``install.py`` builds them from the ``World``) whose methods take
moto's response, that is the request (``_get_param``, ``ec2_backend``,
``current_account``, ``region``, ``error_on_dryrun``), and:

* ``graft(cls, name, handler)`` makes ``cls.<name>`` a function calling ``handler(response)``;
* ``wrap(cls, name, make)`` replaces ``cls.<name>`` by ``make(original)``, under moto's name.

``MillisResult``: moto's EC2 serializer zeroes the milliseconds of timestamps, and EC2
sends real ones (``2025-11-29T11:04:43.305Z``); results of the emulator's EC2 actions use a
serializer that keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import EC2Serializer, TimestampSerializer

from ..wire import iso_millis


def graft(cls: type, name: str, handler: Callable[[Any], Any]) -> None:
    """``cls.<name>(response)`` calls ``handler(response)``."""

    def method(self: Any) -> Any:
        return handler(self)

    method.__name__ = name
    setattr(cls, name, method)


def wrap(cls: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """``cls.<name>`` becomes ``make(original)``, named as moto's."""
    wrapped = make(getattr(cls, name))
    wrapped.__name__ = name
    setattr(cls, name, wrapped)


class _MillisTimestamps(TimestampSerializer):
    def _timestamp_iso8601_millis(self, value: Any) -> str:
        return iso_millis(value)


class MillisEC2Serializer(EC2Serializer):
    """moto's EC2 serializer, but timestamps keep their milliseconds."""

    DEFAULT_TIMESTAMP_FORMAT = "iso8601_millis"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timestamp_serializer = _MillisTimestamps(self.DEFAULT_TIMESTAMP_FORMAT)


class MillisResult(ActionResult):
    def execute_result(self, context: ActionContext) -> Any:
        if context.serializer_class is EC2Serializer:
            context.serializer_class = MillisEC2Serializer
        return super().execute_result(context)
