"""Per-instance service slots with a first-come, first-served queue, as a managed deployment applies
max_concurrent_requests_per_instance."""

from __future__ import annotations

import asyncio
from collections import deque


class SlotPool:
    """At most `per_instance` requests in service on each of `instance_count` instances.

    `acquire()` returns the index of an instance with a free slot (the least busy one), or waits in a
    FIFO queue; `release(i)` hands instance i's slot straight to the oldest waiter.
    """

    def __init__(self, instance_count: int, per_instance: int) -> None:
        self._free = [per_instance] * instance_count
        self._waiters: deque[asyncio.Future[int]] = deque()
        self.in_service = 0
        """Requests holding a slot now."""

    @property
    def queued(self) -> int:
        """Requests waiting for a slot now."""
        return sum(1 for w in self._waiters if not w.done())

    def _take_free(self) -> int | None:
        best = max(range(len(self._free)), key=self._free.__getitem__)
        if self._free[best] == 0:
            return None
        self._free[best] -= 1
        self.in_service += 1
        return best

    async def acquire(self) -> int:
        """Wait for a slot and return its instance index. Cancellation gives back a slot already handed over."""
        if not self._waiters:
            index = self._take_free()
            if index is not None:
                return index
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # the slot arrived as we were cancelled: pass it on
            elif waiter in self._waiters:  # release() may have dropped it already
                self._waiters.remove(waiter)
            raise

    def release(self, index: int) -> None:
        """Give instance `index`'s slot to the oldest waiter, or mark it free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(index)  # in_service unchanged: the slot changes hands
                return
        self._free[index] += 1
        self.in_service -= 1
