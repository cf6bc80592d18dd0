"""Credentials that a rotation may change under a running client."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Rereading(Generic[T]):
    """`first` on the first call, then `read()` on every later one.

    Clients call it as they open a connection: connections already open stay logged in after a password
    rotation, but one opened afterwards needs the new password, which only the secret knows. Pools open
    connections rarely, so the extra Secrets Manager read is cheap; the first connection reuses the value the
    client was built with."""

    def __init__(self, first: T, read: Callable[[], T]) -> None:
        self._value, self._read, self._used = first, read, False
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            if self._used:
                self._value = self._read()
            self._used = True
            return self._value
