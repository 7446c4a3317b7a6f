"""What the sign-up and sign-in pages accept."""

from __future__ import annotations

from typing import Annotated

import msgspec


class SignupForm(msgspec.Struct):
    business_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=256)]


class LoginForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
