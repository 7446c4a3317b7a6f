"""Form input: decode a submitted form into a Struct, with messages a photographer can act on."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

T = TypeVar("T", bound=msgspec.Struct)

MAX_FIELD = 10_000


class FormError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


_FIELD_LABELS = {
    "business_name": "Business name",
    "email": "Email",
    "password": "Password",
    "body": "Note",
    "status": "Status",
    "version": "Version",
}


_AT_FIELD = re.compile(r"at `\$\.(\w+)`")
_MISSING = re.compile(r"missing required field `(\w+)`")
_MIN = re.compile(r"length >= (\d+)")


UNSTRIPPED = frozenset({"password"})  # used exactly as typed: a space is as good a character as any


def parse(form: dict[str, str], struct: type[T]) -> T:
    """Strip every value but passwords, then convert; a msgspec error becomes a sentence naming the field."""
    cleaned = {k: v if k in UNSTRIPPED else v.strip() for k, v in form.items() if not k.startswith("_")}
    try:
        return msgspec.convert(cleaned, struct, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = _MISSING.search(text) or _AT_FIELD.search(text)
        field = found.group(1) if found else None
        label = _FIELD_LABELS.get(field or "", (field or "a field").replace("_", " ").capitalize())
        minimum = _MIN.search(text)
        if _MISSING.search(text) or (minimum and minimum.group(1) == "1" and not cleaned.get(field or "")):
            message = f"{label} is required."
        elif minimum:
            message = f"{label} must be at least {minimum.group(1)} characters."
        elif "length <=" in text:
            message = f"{label} is too long."
        else:
            message = f"{label} doesn't look right."
        raise FormError(message, field) from exc
