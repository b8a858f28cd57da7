"""The shape shared by everything unmixed starts and stops around an `async with` block."""

from abc import ABC, abstractmethod
from typing import Self


class Service(ABC):
    """`async with service:` starts it and, however the block ends, stops it."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
