"""What the studio settings form accepts."""

from __future__ import annotations

from typing import Annotated

import msgspec

from webapp.studio import DateStyle


class SettingsForm(msgspec.Struct):
    business_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    region: Annotated[str, msgspec.Meta(min_length=2, max_length=2)]
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    date_style: DateStyle
