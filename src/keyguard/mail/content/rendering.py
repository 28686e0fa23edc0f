"""`{{ variable }}` substitution for templates: no logic, no attribute access, no surprises.

Values are text; in HTML they are escaped. A variable the template uses but the caller did
not give is an error rather than an empty string, so a half-personalised mail never goes out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Final

from keyguard.errors import InvalidInput

_VARIABLE: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,63})\s*\}\}")
Scalar = str | int | float | bool | None
MAX_VARIABLES: Final = 200
MAX_VALUE_CHARS: Final = 10_000


def variables_in(*texts: str | None) -> set[str]:
    return {m.group(1) for text in texts if text for m in _VARIABLE.finditer(text)}


def render(text: str | None, values: Mapping[str, Scalar], *, escape: bool = False) -> str | None:
    """Substitute every `{{ name }}`; InvalidInput(code="missing_variable") if one is absent."""
    if text is None or "{{" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InvalidInput(
                f"the template uses {{{{ {name} }}}} but no value was given",
                code="missing_variable",
                field="variables",
            )
        value = _text(values[name])
        return html.escape(value) if escape else value

    return _VARIABLE.sub(substitute, text)


def check_values(values: Mapping[str, Scalar]) -> None:
    if len(values) > MAX_VARIABLES:
        raise InvalidInput(f"at most {MAX_VARIABLES} variables", field="variables")
    for name, value in values.items():
        if not _VARIABLE.fullmatch("{{" + name + "}}"):
            raise InvalidInput(f"invalid variable name {name!r}", field="variables")
        if len(_text(value)) > MAX_VALUE_CHARS:
            raise InvalidInput(f"variable {name!r} is too long", field="variables")


def _text(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
