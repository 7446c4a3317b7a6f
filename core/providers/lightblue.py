"""Light Blue export: post a new lead into the supplier's Light Blue Inbox.

Light Blue only refuses duplicates when an ``ID`` (or ``Reference``) is sent, unique per
``Source``. We always send an ID derived from our client id, so retrying after a lost answer
cannot create a second Inbox entry, and a -4 "duplicate" on a retry means it is already there.
"""

from __future__ import annotations

import time
from typing import Literal

import httpx
import msgspec

from core.providers.addresses import PublicOnlyTransport
from core.providers.errors import ProviderError
from core.providers.http import OnWait, RetryingHttp, RetryPolicy, Sleep

LIGHTBLUE_ENDPOINT = "https://online.lightbluesoftware.com/api.php"
SOURCE = "WedSync Hub"
SOURCE_API_VERSION = "1"


class LightBlueLead(msgspec.Struct, frozen=True):
    client_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    wedding_date: str | None = None  # ISO date
    job_type: str | None = "Wedding"
    message: str | None = None


class LightBlueResult(msgspec.Struct, frozen=True):
    outcome: Literal["created", "already_there"]
    code: int
    message: str


def reference_for(client_id: str) -> str:
    return f"wedsync-{client_id}"


def _form(lead: LightBlueLead) -> dict[str, str]:
    fields = {
        "ContactNameFirst": lead.first_name,
        "ContactNameLast": lead.last_name,
        "ContactEmail": lead.email,
        "ContactPhoneMobile": lead.mobile_phone,
        "ContactPhoneHome": lead.home_phone,
        "JobDate": lead.wedding_date,
        "JobType": lead.job_type,
        "Message": lead.message,
    }
    return {k: v for k, v in fields.items() if v}


def _parse(text: str) -> tuple[int, str] | None:
    head, _, rest = text.strip().partition("\n")
    token = head.split(":")[0].strip()
    try:
        return int(token), rest.strip() or head[len(token) :].strip(" :")
    except ValueError:
        return None


class LightBlueClient:
    def __init__(
        self,
        endpoint_url: str = LIGHTBLUE_ENDPOINT,
        api_key: str = "",
        *,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        on_wait: OnWait | None = None,
        transport: httpx.BaseTransport | None = None,
        allow_local: bool = False,
    ) -> None:
        self._endpoint = endpoint_url
        self._key = api_key
        # Only public addresses (loopback too with allow_local: the sandbox CRM), checked as each request is sent.
        self._client = httpx.Client(timeout=timeout, transport=PublicOnlyTransport(transport, allow_local=allow_local))
        self._http = RetryingHttp(self._client, provider="Light Blue", policy=policy, sleep=sleep, on_wait=on_wait)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LightBlueClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post_lead(self, lead: LightBlueLead) -> LightBlueResult:
        form = {
            "key": self._key,
            "type": "contact form",
            "Source": SOURCE,
            "SourceAPIVersion": SOURCE_API_VERSION,
            "ID": reference_for(lead.client_id),
            **_form(lead),
        }
        response = self._http.request("POST", self._endpoint, data=form, what="the new lead")
        parsed = _parse(response.text)
        if parsed is None:
            raise ProviderError(
                "malformed",
                "Light Blue answered in a way we didn't understand, so we "
                "can't be sure the lead arrived. Please check your Light Blue Inbox.",
            )
        code, summary = parsed
        if code == 0:
            return LightBlueResult("created", 0, "Added to your Light Blue Inbox.")
        if code == -4:
            return LightBlueResult("already_there", -4, "Already in Light Blue.")
        if code == -3:
            raise ProviderError("rejected", "Light Blue didn't accept this lead's details (code -3).")
        detail = f": {summary}" if summary else ""
        raise ProviderError(
            "rejected",
            f"Light Blue refused the lead (code {code}{detail}). If this "
            "keeps happening, check the Light Blue API key in your settings.",
        )
