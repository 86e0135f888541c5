"""Template limits: a linear-time scan on adversarial input, size caps on input and output."""

from __future__ import annotations

import pytest

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS as CAPS
from openrft.errors import InvalidRequestError
from openrft.graders.templating import (
    RenderTooLargeError,
    namespaces_for,
    render_template,
    scan,
    validate_template,
)


class CountingStr(str):
    """A str that counts the characters its ``find`` calls could look at."""

    looked_at = 0

    def find(self, sub: str, start: int = 0, *args: int) -> int:  # type: ignore[override]
        found = str.find(self, sub, start, *args)
        CountingStr.looked_at += (found if found >= 0 else len(self)) - start + len(sub)
        return found


@pytest.mark.parametrize("pattern", ["{{", "{{a", "{{item.x}}{{", "{{}}"])
def test_scan_work_is_linear_in_the_template(pattern: str) -> None:
    # The old regex looked at every later character for every '{{': ~n²/2 steps here.
    text = CountingStr(pattern * 20_000)
    CountingStr.looked_at = 0
    pieces = list(scan(text))
    assert pieces
    assert CountingStr.looked_at <= 4 * len(text) + 4 * len(pieces)


@pytest.mark.timeout(60)
def test_a_flood_of_braces_is_refused_quickly_not_after_a_stall() -> None:
    with pytest.raises(InvalidRequestError, match="Unclosed"):
        validate_template("{{" * (24 * 1024), "grader.input")
    # Far past the size cap the scan itself still finishes (4 MB of '{{': 8e12 steps before).
    assert list(scan("{{" * 2_000_000))[-1][1] is None


def test_scan_matches_the_old_tag_semantics() -> None:
    assert list(scan("a{{{x}}b{{y")) == [("a", "{x"), ("b{{y", None)]
    assert list(scan("{{ item.a }}")) == [("", " item.a "), ("", None)]


def test_oversize_template_is_a_clear_400() -> None:
    with pytest.raises(InvalidRequestError, match=str(CAPS.template_chars)) as info:
        validate_template("x" * (CAPS.template_chars + 1), "grader.reference")
    assert info.value.param == "grader.reference"


def test_render_output_is_capped() -> None:
    ns = namespaces_for("y" * 1000, {})
    template = "{{sample.output_text}}" * (CAPS.render_chars // 1000 + 2)
    with pytest.raises(RenderTooLargeError):
        render_template(template, ns)
    assert len(render_template("{{sample.output_text}}" * 10, ns)) == 10_000
