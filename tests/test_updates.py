"""Updates from one chat are handled in order; different chats do not wait for each other."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.updates import PerChatUpdateProcessor


def update_from(chat_id: int, update_id: int) -> Update:
    user = User(chat_id, "x", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, None, chat, from_user=user))  # type: ignore[arg-type]


async def test_same_chat_in_order_other_chats_concurrently() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=16)
    log: list[str] = []
    slow_started = asyncio.Event()

    async def handle(name: str, delay: float, started: asyncio.Event | None = None) -> None:
        if started:
            started.set()
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")

    first = asyncio.create_task(processor.process_update(update_from(1, 1), handle("a1", 0.05, slow_started)))
    await slow_started.wait()
    second = asyncio.create_task(processor.process_update(update_from(1, 2), handle("a2", 0)))
    other = asyncio.create_task(processor.process_update(update_from(2, 3), handle("b1", 0)))
    await asyncio.gather(first, second, other)
    assert log.index("end b1") < log.index("end a1")  # chat 2 did not wait for chat 1
    assert log.index("end a1") < log.index("start a2")  # chat 1's second update waited its turn
    assert processor.busy_chats == 0  # idle chats are forgotten


async def test_a_busy_chat_holds_one_slot_loses_nothing_and_cannot_starve_the_others() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=2)
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(chat: int) -> None:
        await release.wait()
        handled.append(chat)

    async def quick(chat: int) -> None:
        handled.append(chat)

    backlog = [asyncio.create_task(processor.process_update(update_from(1, n), slow(1))) for n in range(30)]
    await asyncio.sleep(0.01)
    # Two shared slots only, yet chat 1's thirty updates hold one: chats 2 and 3 get through at once.
    await asyncio.wait_for(processor.process_update(update_from(2, 98), quick(2)), timeout=1)
    await asyncio.wait_for(processor.process_update(update_from(3, 99), quick(3)), timeout=1)
    assert handled == [2, 3]
    release.set()
    await asyncio.gather(*backlog)
    assert handled.count(1) == 30 and processor.dropped == 0  # a slow moment drops nothing


async def test_an_absurd_backlog_from_one_chat_is_cut() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=16, max_queued_per_chat=4)
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(chat: int) -> None:
        await release.wait()
        handled.append(chat)

    flood = [asyncio.create_task(processor.process_update(update_from(1, n), slow(1))) for n in range(30)]
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*flood)
    assert handled.count(1) == 4 and processor.dropped == 26
