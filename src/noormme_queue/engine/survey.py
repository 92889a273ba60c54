"""Which job types have pending jobs but no handler here: they wait (a worker elsewhere may
run them), and ``get_status()`` names them so a missing handler is easy to spot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable


class TypeSurvey:
    def __init__(
        self,
        *,
        pending_types: Callable[[], Awaitable[list[str]]],
        handled: Callable[[], Collection[str]],
    ) -> None:
        self._pending_types = pending_types
        self._handled = handled
        self.unhandled: tuple[str, ...] = ()

    def note_pending(self, types: Iterable[str]) -> None:
        """Types just enqueued here: show the unhandled ones before the next survey."""
        handled = self._handled()
        new = {t for t in types if t not in handled} - set(self.unhandled)
        if new:
            self.unhandled = tuple(sorted({*self.unhandled, *new}))

    async def run_once(self, now: float) -> tuple[str, ...]:
        handled = self._handled()
        self.unhandled = tuple(t for t in await self._pending_types() if t not in handled)
        return self.unhandled
