from __future__ import annotations

from typing import Any

from openrft.inference.detokenize import IncrementalText


def feed(tokenizer: Any, text: str, stop: tuple[str, ...] = ()) -> tuple[IncrementalText, list]:
    tracker = IncrementalText(tokenizer, stop)
    deltas = []
    for token in tokenizer.encode(text):
        stopped = tracker.push(token)
        deltas.append(tracker.take_delta())
        if stopped:
            break
    deltas.append(tracker.take_delta(final=True))
    return tracker, deltas


def test_deltas_rebuild_the_text_without_cut_characters(tiny: tuple) -> None:
    _, tokenizer = tiny
    text = "naïve ✓ done"
    tracker, deltas = feed(tokenizer, text)
    assert "".join(deltas) == text == tracker.text
    assert not any("\ufffd" in d for d in deltas)
    assert not tracker.stopped


def test_stop_string_cuts_text_and_is_never_streamed(tiny: tuple) -> None:
    _, tokenizer = tiny
    tracker, deltas = feed(tokenizer, "alpha END omega", stop=("END",))
    assert tracker.stopped and tracker.text == "alpha "
    assert "".join(deltas) == "alpha "
    # the partial "E", "EN" were held back rather than streamed then retracted
    assert all("E" not in d for d in deltas)


def test_first_of_several_stop_strings_wins(tiny: tuple) -> None:
    _, tokenizer = tiny
    tracker, _ = feed(tokenizer, "one two three", stop=("three", "two"))
    assert tracker.text == "one "
