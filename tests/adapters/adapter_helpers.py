"""What the Qdrant and Weaviate adapter tests share: test words, sync/async resolution and plugins."""

from __future__ import annotations

import inspect
from typing import Any

# Words the tiny tokenizer knows, so every text scores on whole tokens.
_WORDS_TEXT = """
city capital river mountain sea ocean weather sunny rain cat dog animal car train road population
berlin paris london tokyo madrid music history science water energy food health school student book
paper price market company computer software python code search vector database rank model text
people world year language english french german
"""
WORDS = _WORDS_TEXT.split()


async def resolve(value: Any) -> Any:
    """The value of a sync call, or the awaited value of an async one."""
    return await value if inspect.isawaitable(value) else value
