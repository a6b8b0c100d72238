"""Copies of one tokenizer, each lent to one thread at a time.

A Hugging Face fast tokenizer keeps its truncation and padding settings on the shared Rust object, and
every call sets them before it encodes: two threads on one tokenizer wait for each other on its lock
(holding the GIL, so the whole process waits) and can even encode with the other's truncation. Each
borrower here gets a copy no other thread holds; copies are made on demand and kept for reuse, so there
are as many as threads have ever tokenised at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class TokenizerPool:
    """Lends copies of ``template``; the template itself is never lent, so its owner may keep using it."""

    def __init__(self, template: Any) -> None:
        self.template = template
        self._free: list[Any] = []

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """A copy of the template that no other thread uses until the block ends."""
        try:
            tokenizer = self._free.pop()  # atomic: two threads never pop the same copy
        except IndexError:
            tokenizer = copy.deepcopy(self.template)
        try:
            yield tokenizer
        finally:
            self._free.append(tokenizer)
