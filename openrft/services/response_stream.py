"""The server-sent events of one streamed response, item by item, numbered in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openrft.domain.tools import ToolCall
from openrft.ids import new_id
from openrft.protocol.responses import (
    FunctionCallItem,
    OutputItem,
    OutputMessage,
    OutputText,
    sse_event,
)


class ResponseEvents:
    """Builds the event stream: a message item opens at the first text (or up front), each
    function call is one item with one arguments delta; ``items`` are the finished items."""

    def __init__(self) -> None:
        self._sequence = 0
        self.items: list[OutputItem] = []
        self._message: OutputMessage | None = None
        self._text = ""

    def event(self, event_type: str, **fields: Any) -> str:
        self._sequence += 1
        return sse_event(event_type, self._sequence - 1, **fields)

    def open_message(self) -> Iterator[str]:
        self._message = OutputMessage(id=new_id("msg_"), status="in_progress", content=[])
        self.items.append(self._message)
        yield self.event(
            "response.output_item.added", output_index=self._index(), item=self._message
        )
        yield self.event("response.content_part.added", **self._where(), part=OutputText(text=""))

    def content(self, delta: str) -> Iterator[str]:
        if not delta:
            return
        if self._message is None:
            yield from self.open_message()
        self._text += delta
        yield self.event("response.output_text.delta", **self._where(), delta=delta, logprobs=[])

    def function_call(self, call: ToolCall) -> Iterator[str]:
        item = FunctionCallItem(
            id=new_id("fc_"), status="in_progress", call_id=call.id, name=call.name, arguments=""
        )
        self.items.append(item)
        where = {"item_id": item.id, "output_index": len(self.items) - 1}
        yield self.event(
            "response.output_item.added", output_index=where["output_index"], item=item
        )
        yield self.event("response.function_call_arguments.delta", **where, delta=call.arguments)
        yield self.event(
            "response.function_call_arguments.done",
            **where,
            name=call.name,
            arguments=call.arguments,
        )
        done = item.model_copy(update={"status": "completed", "arguments": call.arguments})
        self.items[-1] = done
        yield self.event("response.output_item.done", output_index=where["output_index"], item=done)

    def close(self, complete: bool) -> Iterator[str]:
        """Finish the message item (one is made when nothing else was produced)."""
        if self._message is None and not self.items:
            yield from self.open_message()
        if self._message is None:
            return
        part = OutputText(text=self._text)
        yield self.event("response.output_text.done", **self._where(), text=self._text, logprobs=[])
        yield self.event("response.content_part.done", **self._where(), part=part)
        done = self._message.model_copy(
            update={"status": "completed" if complete else "incomplete", "content": [part]}
        )
        self.items[self._index()] = done
        yield self.event("response.output_item.done", output_index=self._index(), item=done)

    def _index(self) -> int:
        assert self._message is not None
        return next(i for i, item in enumerate(self.items) if item.id == self._message.id)

    def _where(self) -> dict[str, Any]:
        assert self._message is not None
        return {"item_id": self._message.id, "output_index": self._index(), "content_index": 0}
