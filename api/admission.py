"""Admission to the model: one generation at a time, a bounded queue, 503 past it.

llama.cpp runs one generation at a time (the generator's lock); without a bound every extra
request would park a server thread on that lock for tens of seconds. A request that cannot get a
slot is turned away at once with `Retry-After`, an estimate from recent generation times.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from api.errors import ApiError


@dataclass
class Admission:
    queue_size: int
    in_flight: int = 0
    rejected: int = 0
    cancelled: int = 0
    completed: int = 0
    _mean_seconds: float = 6.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def capacity(self) -> int:
        return self.queue_size + 1

    def enter(self) -> None:
        """Take a slot or raise a 503 right away; never wait here."""
        with self._lock:
            if self.in_flight >= self.capacity:
                self.rejected += 1
                retry = max(1, math.ceil(self._mean_seconds * self.in_flight))
                raise ApiError(
                    503,
                    "busy",
                    f"the model is busy ({self.in_flight} requests running or queued); "
                    f"retry in about {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            self.in_flight += 1

    def leave(self, seconds: float | None = None, cancelled: bool = False) -> None:
        with self._lock:
            self.in_flight -= 1
            if cancelled:
                self.cancelled += 1
            else:
                self.completed += 1
            if seconds is not None and not cancelled:
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "in_flight": self.in_flight,
                "capacity": self.capacity,
                "rejected": self.rejected,
                "cancelled": self.cancelled,
                "completed": self.completed,
            }
