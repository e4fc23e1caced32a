"""SlotPool: per-instance limits, first come first served, and no slot lost to cancellation."""

from __future__ import annotations

import asyncio

from moetui.local_endpoint.slots import SlotPool


async def test_fills_instances_evenly_then_queues_in_order() -> None:
    pool = SlotPool(instance_count=2, per_instance=2)
    taken = [await pool.acquire() for _ in range(4)]
    assert sorted(taken) == [0, 0, 1, 1]
    order: list[str] = []

    async def wait(name: str) -> int:
        index = await pool.acquire()
        order.append(name)
        return index

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0)
    assert pool.queued == 2
    pool.release(1)
    assert await first == 1
    pool.release(0)
    assert await second == 0
    assert order == ["first", "second"]
    assert pool.in_service == 4


async def test_a_cancelled_waiter_gives_its_place_and_slot_on() -> None:
    pool = SlotPool(instance_count=1, per_instance=1)
    await pool.acquire()
    cancelled = asyncio.create_task(pool.acquire())
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    pool.release(0)
    assert await asyncio.wait_for(waiting, 1) == 0
    pool.release(0)
    assert pool.in_service == 0 and pool.queued == 0


async def test_a_slot_handed_over_at_the_moment_of_cancellation_is_not_lost() -> None:
    pool = SlotPool(instance_count=1, per_instance=1)
    await pool.acquire()
    late = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    pool.release(0)  # hands the slot to `late` ...
    late.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(late, return_exceptions=True)
    assert pool.in_service == 0
    assert await asyncio.wait_for(pool.acquire(), 1) == 0
