"""Patches of moto are installed once per process, however many times a module's
``install`` is called (the server and the tests both call them)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()


def once(install: Callable[..., None]) -> Callable[..., None]:
    """Runs the decorated ``install`` on its first call only."""
    done = False

    @functools.wraps(install)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        nonlocal done
        with _lock:
            if done:
                return
            done = True
        install(*args, **kwargs)

    return wrapper
