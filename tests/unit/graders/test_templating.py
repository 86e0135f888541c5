from __future__ import annotations

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders.templating import (
    MissingVariableError,
    build_sample,
    namespaces_for,
    parse_variable,
    render_template,
    validate_template,
)


def test_parse_variable_paths() -> None:
    assert parse_variable(" item.a[0].b ") == ("item", ("a", 0, "b"))
    assert parse_variable("sample.output_tools[0].function.name") == (
        "sample",
        ("output_tools", 0, "function", "name"),
    )
    with pytest.raises(ValueError):
        parse_variable("other.x")
    with pytest.raises(ValueError):
        parse_variable("item.a[x]")


def test_render_spaces_optional_and_nested_json() -> None:
    ns = namespaces_for('{"a": {"b": [1, "two"]}}', {"ref": "x", "n": 42, "obj": {"k": True}})
    assert render_template("{{item.ref}}|{{ item.ref }}", ns) == "x|x"
    assert render_template("{{sample.output_json.a.b[1]}}", ns) == "two"
    assert render_template("{{ sample.output_json.a.b[0] }}", ns) == "1"
    assert render_template("{{item.n}} {{item.obj}}", ns) == '42 {"k": true}'
    assert render_template("{{sample.output_text}}", ns) == '{"a": {"b": [1, "two"]}}'
    assert render_template("no tags", ns) == "no tags"


def test_missing_variables_raise() -> None:
    ns = namespaces_for("plain text", {"a": [1]})
    for template in ("{{item.b}}", "{{item.a[1]}}", "{{sample.output_json.x}}", "{{item.a.b}}"):
        with pytest.raises(MissingVariableError):
            render_template(template, ns)


def test_sample_output_json_only_when_parsable() -> None:
    assert "output_json" not in build_sample("not json")
    assert build_sample('{"x": 1}')["output_json"] == {"x": 1}
    assert build_sample("hi")["choices"][0]["message"]["content"] == "hi"


def test_sample_of_a_tool_trajectory_has_every_call_and_the_conversation() -> None:
    first = {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    second = {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}
    prompt = [{"role": "user", "content": "q"}]
    trajectory = [
        {"role": "assistant", "content": "", "tool_calls": [first]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "assistant", "content": "so", "tool_calls": [second]},
    ]
    ns = namespaces_for("so", {}, prompt=prompt, output_messages=trajectory)
    assert render_template("{{sample.output_tools[0].function.name}}", ns) == "f"
    assert render_template("{{sample.output_tools[1].function.name}}", ns) == "g"
    assert render_template("{{sample.messages[2].content}}", ns) == "1"
    choice = ns["sample"]["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"] == [second]
    plain = namespaces_for("so", {})["sample"]
    assert plain["output_tools"] == [] and "messages" not in plain


def test_validate_template_names_field() -> None:
    validate_template("{{item.a}} and {{ sample.output_text }}", "g.input")
    for bad in ("{{foo.a}}", "{{item.a", "{{item.a[}}"):
        with pytest.raises(InvalidRequestError) as info:
            validate_template(bad, "g.input")
        assert info.value.param == "g.input"
