"""Request texts made ready for the engine: invalid Unicode found, long texts cut before tokenising.

Everything here runs on a worker thread, never on the event loop. A document longer than what the
model can read is cut by characters first (at whitespace where there is some), and the cut is
checked by tokenising it: it must still hold more tokens than the model keeps, so the engine
scores the same tokens it would have kept from the whole text, without tokenising 100,000
characters to keep 512 tokens. Where the cut holds too few tokens (much whitespace, very long
words), a longer cut is tried, up to the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.tokenizer_pool import TokenizerPool

_FIRST_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")

# First character budget per token of a cut; raised fourfold until the cut holds enough tokens.
CHARS_PER_TOKEN = 8
# Extra tokens a cut that falls inside a word must hold (the cut word's own pieces may differ).
WORD_MARGIN = 16
# The shortest cut: longer than any word a tokenizer splits into pieces (WordPiece reads a word of
# over 100 characters as one unknown token, so a shorter cut inside it would tokenise differently).
MIN_CUT_CHARS = 1024
# Characters of documents prepared per worker-thread call: a big request is prepared slice by slice, so
# that a small request's texts find a free thread, and the tokenizer's own thread pool, between slices.
SLICE_CHARS = 262_144


def invalid_text(data: Any) -> tuple[str, int] | None:
    """The first string in a parsed JSON value (keys included) that UTF-8 cannot encode (a lone
    surrogate): where it is (``documents[2]``) and the character's position; None when all are valid.
    Walked without recursion, so deeply nested JSON cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                return path or "body", error.start
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append((f"{path}.{key}" if path else str(key), item))
                stack.append((f"{path} key" if path else "key", key))
        elif isinstance(value, list):
            stack.extend((f"{path}[{number}]", item) for number, item in reversed(list(enumerate(value))))
    return None


@dataclass(frozen=True)
class Truncation:
    """How a protocol wants long pairs handled (the engine keeps the first tokens of the longest side)."""

    document_tokens: int | None = None  # Cohere max_tokens_per_doc: each document alone, first tokens
    left: bool = False  # TEI truncation_direction Left: keep the end of a long document
    refuse: bool = False  # TEI truncate false: a pair longer than the model's limit is an error
    count: bool = False  # report the tokens scored (Jina usage.total_tokens)


@dataclass
class Prepared:
    """The query and documents to score, and the tokens scored per pair when counted."""

    query: str
    documents: list[str]
    tokens: list[int] | None = None
    too_long: int | None = None  # index of the first pair over the limit (with ``refuse``)

    @classmethod
    def joined(cls, parts: Sequence[Prepared]) -> Prepared:
        """The slices of one request, prepared one by one (same query), as one."""
        documents: list[str] = []
        tokens: list[int] | None = None if parts[0].tokens is None else []
        too_long = None
        for part in parts:
            if too_long is None and part.too_long is not None:
                too_long = len(documents) + part.too_long
            documents += part.documents
            if tokens is not None:
                tokens += part.tokens or []
        return cls(parts[0].query, documents, tokens, too_long)


def slices(texts: Sequence[str], chars: int = SLICE_CHARS) -> list[slice]:
    """``texts`` in consecutive slices of about ``chars`` characters (one text at least; one empty slice
    for no texts)."""
    result: list[slice] = []
    start = size = 0
    for end, text in enumerate(texts):
        if size and size + len(text) > chars:
            result.append(slice(start, end))
            start, size = end, 0
        size += len(text)
    result.append(slice(start, len(texts)))
    return result


class TextCutter:
    """Cuts texts for one tokenizer and token limit (the model's ``max_length``); every call encodes on a
    copy of the tokenizer borrowed from ``tokenizers``, so threads never share one."""

    def __init__(self, tokenizers: TokenizerPool, max_length: int) -> None:
        self.tokenizers = tokenizers
        self.max_length = max_length
        with tokenizers.borrow() as tokenizer:
            self.specials = tokenizer.num_special_tokens_to_add(pair=True)

    def prepare(
        self, query: str, documents: Sequence[str], truncation: Truncation = Truncation()
    ) -> Prepared:
        """The texts to score for ``query`` against ``documents``, as ``truncation`` asks.

        The query is kept whole (its length is capped by the server's limits) and tokenised once; a
        document is cut to hold at least ``max_length`` tokens and more than the query, so that
        longest-first truncation keeps the same tokens as from the whole document.
        """
        query_tokens = self.count([query])[0]
        enough = max(self.max_length, query_tokens + 1)
        documents = list(documents)
        if truncation.document_tokens is not None:
            documents = self.first_tokens(documents, truncation.document_tokens)
        if not (truncation.left or truncation.refuse or truncation.count):
            return Prepared(query, self.cut(documents, enough))
        if truncation.left and not truncation.refuse:
            documents = self.cut(documents, enough, from_end=True)
            kept = [self.kept_document_tokens(query_tokens, n) for n in self.count(documents)]
            documents = self.last_tokens(documents, kept)
        else:
            documents = self.cut(documents, enough)
        budget = self.max_length - self.specials
        pair_tokens = [query_tokens + n for n in self.count(documents)]
        too_long = (
            next((i for i, n in enumerate(pair_tokens) if n > budget), None) if truncation.refuse else None
        )
        tokens = [self.specials + min(budget, n) for n in pair_tokens]
        return Prepared(query, documents, tokens, too_long)

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text alone, without special tokens."""
        if not texts:
            return []
        return [len(ids) for ids in self._encode(texts, "input_ids")]

    def cut(self, texts: Sequence[str], tokens: int, from_end: bool = False) -> list[str]:
        """Each text shortened, by characters, to a part that still holds at least ``tokens`` tokens
        (its start, or its end with ``from_end``); short texts are returned whole."""
        result = list(texts)
        todo = list(range(len(result)))
        chars = max(MIN_CUT_CHARS, tokens * CHARS_PER_TOKEN)
        while todo:
            pieces = {i: _cut(result[i], chars, from_end) for i in todo if len(result[i]) > chars}
            if not pieces:
                return result
            counts = self.count([piece for piece, _ in pieces.values()])
            todo = []
            for (i, (piece, on_space)), count in zip(pieces.items(), counts):
                if count >= tokens + (0 if on_space else WORD_MARGIN):
                    result[i] = piece
                else:
                    todo.append(i)
            chars *= 4
        return result

    def first_tokens(self, texts: Sequence[str], tokens: int) -> list[str]:
        """Each text cut after its first ``tokens`` tokens (Cohere's ``max_tokens_per_doc``)."""
        texts = self.cut(texts, tokens)
        return [
            text[: offsets[tokens - 1][1]] if len(offsets) > tokens else text
            for text, offsets in zip(texts, self._encode(texts, "offset_mapping"))
        ]

    def last_tokens(self, texts: Sequence[str], tokens: Sequence[int]) -> list[str]:
        """Each text cut to at most its last ``tokens[i]`` tokens, starting at a word."""
        return [
            text[_word_start(offsets, len(offsets) - keep) :] if len(offsets) > keep else text
            for text, offsets, keep in zip(texts, self._encode(texts, "offset_mapping"), tokens)
        ]

    def _encode(self, texts: Sequence[str], key: str) -> list[Any]:
        """``input_ids`` or ``offset_mapping`` of each text alone, without special tokens."""
        with self.tokenizers.borrow() as tokenizer:
            encoded = tokenizer(
                list(texts),
                add_special_tokens=False,
                return_attention_mask=False,
                return_offsets_mapping=key == "offset_mapping",
                verbose=False,
            )
        return encoded[key]

    def kept_document_tokens(self, query_tokens: int, document_tokens: int) -> int:
        """The document tokens a pair keeps under longest-first truncation (as tokenizers does it)."""
        budget = self.max_length - self.specials
        if query_tokens + document_tokens <= budget:
            return document_tokens
        shorter, longer = sorted((query_tokens, document_tokens))
        longer = shorter if shorter > budget else max(shorter, budget - shorter)
        if shorter + longer > budget:
            shorter, longer = budget // 2, budget // 2 + budget % 2
        document_is_longer = document_tokens >= query_tokens
        return min(document_tokens, longer if document_is_longer else shorter)


def _word_start(offsets: Sequence[tuple[int, int]], index: int) -> int:
    """The start of the first token from ``index`` on that follows a gap (a word's first piece), looking
    ``WORD_MARGIN`` tokens ahead at most: a cut inside a word would tokenise differently."""
    for token in range(index, min(index + WORD_MARGIN, len(offsets))):
        if offsets[token][0] > offsets[token - 1][1]:
            return offsets[token][0]
    return offsets[index][0]


def _cut(text: str, chars: int, from_end: bool) -> tuple[str, bool]:
    """``text`` cut to at most ``chars`` characters, at whitespace where the last quarter of the cut
    has some; also whether the cut fell on whitespace."""
    piece = text[-chars:] if from_end else text[:chars]
    window = chars // 4
    if from_end:
        space = _FIRST_SPACE.search(piece, 0, window)
        return (piece[space.start() :], True) if space else (piece, False)
    space = _LAST_SPACE.search(piece, len(piece) - window)
    return (piece[: space.start()], True) if space else (piece, False)
