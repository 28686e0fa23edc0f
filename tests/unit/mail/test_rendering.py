"""Template variables: substituted, escaped in HTML, never silently empty."""

from __future__ import annotations

import pytest

from keyguard.errors import InvalidInput
from keyguard.mail.content.rendering import render, variables_in


def test_variables_are_substituted_with_their_text() -> None:
    assert render("Hi {{ name }}, {{n}} new", {"name": "Ada", "n": 3}) == "Hi Ada, 3 new"


def test_html_values_are_escaped() -> None:
    rendered = render("<p>{{ name }}</p>", {"name": "<script>x</script>"}, escape=True)
    assert rendered == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_a_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(InvalidInput) as refused:
        render("Hi {{ name }}", {})
    assert refused.value.code == "missing_variable"


def test_values_are_not_templates_themselves() -> None:
    assert render("{{ a }}", {"a": "{{ b }}"}) == "{{ b }}"


def test_the_variables_a_template_uses_are_listed() -> None:
    assert variables_in("{{ a }} {{b}}", None, "{{ a.b }}") == {"a", "b", "a.b"}
