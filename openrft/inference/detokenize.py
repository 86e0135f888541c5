"""Token ids → text while decoding: streaming deltas and stop strings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_INCOMPLETE = "\ufffd"  # what a byte-level tokenizer shows for a cut multi-byte character


class IncrementalText:
    """The text of one sample as its tokens arrive.

    ``push`` returns True once a stop string has appeared; ``text`` is then cut before it.
    ``take_delta()`` hands out text not yet streamed, holding back a tail that might still
    become a stop string or an incomplete UTF-8 character.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str] = ()) -> None:
        self._tokenizer = tokenizer
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self.text = ""
        self.stopped = False
        self._sent = 0

    def push(self, token_id: int) -> bool:
        """Append one token; True when a stop string now ends the text."""
        if self.stopped:
            return True
        self._ids.append(token_id)
        self.text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        cut = min((i for i in (self.text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
            self.stopped = True
        return self.stopped

    def take_delta(self, final: bool = False) -> str:
        """Text added since the last call; with ``final`` everything left (call at the end)."""
        end = len(self.text) if final or self.stopped else self._safe_end()
        delta = self.text[self._sent : end] if end > self._sent else ""
        self._sent = max(self._sent, end)
        return delta

    def _safe_end(self) -> int:
        end = len(self.text)
        while end > self._sent and self.text[end - 1] == _INCOMPLETE:
            end -= 1
        for stop in self._stop:
            for size in range(min(len(stop) - 1, end - self._sent), 0, -1):
                if self.text[end - size : end] == stop[:size]:
                    end -= size
                    break
        return end
