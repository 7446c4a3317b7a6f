"""What the integrations page accepts: connecting a CRM."""

from __future__ import annotations

from typing import Annotated

import msgspec


class ConnectForm(msgspec.Struct):
    provider: str
    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    name: Annotated[str, msgspec.Meta(max_length=120)] = ""
    base_url: Annotated[str, msgspec.Meta(max_length=500)] = ""
