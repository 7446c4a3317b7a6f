"""What the merge page posts: which client's value to keep for each field the two differ on, and both versions."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from core.couple import COUPLE_FIELDS

Side = Literal["this", "other"]


def _choice(name: str) -> tuple[str, Any, Any]:
    return (f"keep_{name}", Side, "this")


# ``keep_<field>`` for every field of core.couple (a field the two clients agree on has no radio: "this"), the
# survivor's ``version`` and the other client's ``other_version`` as the page showed them.
MergeForm: type[msgspec.Struct] = msgspec.defstruct(
    "MergeForm", [("version", int), ("other_version", int), *(_choice(f.name) for f in COUPLE_FIELDS)], kw_only=True
)


def choices(form: msgspec.Struct) -> tuple[int, int, dict[str, Side]]:
    """(survivor's version, other's version, field -> the side whose value is kept)."""
    values = msgspec.structs.asdict(form)
    return (
        int(values["version"]),
        int(values["other_version"]),
        {f.name: values[f"keep_{f.name}"] for f in COUPLE_FIELDS},
    )
