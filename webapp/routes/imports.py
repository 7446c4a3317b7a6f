"""File imports: upload → preview (dry run, mapping) → confirm → a background job."""

from __future__ import annotations

import re
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException

from core import job_lifecycle as lifecycle
from core import sources
from core.db.pool import tenant
from core.importing.mapping import PRESETS, Mapping, recognise
from core.importing.phone_region import CANDIDATE_REGIONS, calling_code
from core.importing.records import FIELD_LABELS, RECORD_FIELDS, ImportFileError
from core.queue import send_job
from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.forms import read_form
from webapp.import_preview import build_preview, file_format, header_signature, read_head
from webapp.queries import integrations as integrations_q
from webapp.queries import jobs as jobs_q
from webapp.queries import suppliers as suppliers_q
from webapp.rendering import page
from webapp.state import Resources

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PRESET_LABELS = sources.UPLOAD_LABELS
TARGET_CHOICES = [
    ("", "Don't import"),
    *[(f, FIELD_LABELS.get(f, f).capitalize()) for f in RECORD_FIELDS],
    ("partner1_name", "Full name"), ("partner2_name", "Partner's full name"), ("couple_name", "Couple's names"),
    ("name_with_email", "Name (email)"),
]  # fmt: skip


def _chunks(data: bytes) -> list[bytes]:
    size = lifecycle.CHUNK_BYTES
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


class ImportController(Controller):
    path = "/imports"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    @get("/new", name="import_form")
    async def show_upload(self, request: Request[Any, Any, Any]) -> Response[str]:
        return page(request, "imports/new.html", presets=PRESET_LABELS, error=None, max_mb=MAX_UPLOAD_BYTES // 2**20)

    @get("/shared", name="import_shared")
    async def show_shared(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Where a file shared from another app lands (manifest share_target, sw/sw.js): the upload form, which
        static/share.js fills with the file the service worker kept and sends, as a tap on "Check the file" would."""
        return page(
            request,
            "imports/new.html",
            presets=PRESET_LABELS,
            error=None,
            max_mb=MAX_UPLOAD_BYTES // 2**20,
            shared=True,
            headers={"cache-control": "no-store"},
        )

    @post("/", name="upload_file", request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024)
    async def upload(self, request: Request[Any, Any, Any], res: Resources, supplier_id: int) -> Response[str]:
        form = await request.form()
        upload = form.get("file")
        preset = str(form.get("preset") or "csv")
        if preset not in PRESETS:
            preset = "csv"

        def refuse(message: str) -> Response[str]:
            return page(
                request,
                "imports/new.html",
                status_code=422,
                presets=PRESET_LABELS,
                error=message,
                max_mb=MAX_UPLOAD_BYTES // 2**20,
            )

        if not isinstance(upload, UploadFile) or not upload.filename:
            return refuse("Choose a file to import.")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return refuse(f"This file is bigger than {MAX_UPLOAD_BYTES // 2**20} MB. Split it into smaller files.")
        if not data.strip():
            return refuse("This file looks empty.")
        fmt = file_format(upload.filename, preset)
        if fmt == "vcard":
            preset = "vcard"
        async with tenant(res.pool, supplier_id) as conn:
            integration = await integrations_q.file_integration(conn, supplier_id, preset)
            job_id = await lifecycle.create_async(
                conn,
                kind="file_import",
                source=preset if preset != "vcard" else "vcard",
                status="draft",
                integration_id=integration.id,
                options={"format": fmt, "filename": upload.filename[:200], "preset": preset},
            )
            await lifecycle.store_upload(conn, job_id, _chunks(data))
        return Response("", status_code=303, headers={"location": f"/imports/{job_id}/preview"})

    @get("/{job_id:int}/preview", name="import_preview")
    async def show_preview(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, job_id: int
    ) -> Response[str]:
        return await self._preview(request, res, supplier_id, job_id, None)

    @post("/{job_id:int}/preview", name="import_remap")
    async def remap(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, job_id: int
    ) -> Response[str]:
        return await self._preview(request, res, supplier_id, job_id, await read_form(request))

    async def _preview(
        self,
        request: Request[Any, Any, Any],
        res: Resources,
        supplier_id: int,
        job_id: int,
        form: dict[str, str] | None,
    ) -> Response[str]:
        async with tenant(res.pool, supplier_id) as conn:
            job = await jobs_q.get_job(conn, job_id)
            if job is None or job.kind != "file_import":
                raise NotFoundException("We couldn't find that import.")
            if job.status != "draft":
                return Response("", status_code=303, headers={"location": f"/jobs/{job_id}"})
            supplier = await suppliers_q.get_supplier(conn, supplier_id)
            region = supplier.default_region if supplier else res.settings.default_region
            head_bytes, more = await jobs_q.read_upload_head(conn, job_id)
            fmt = str(job.options.get("format", "table"))
            try:
                head = await anyio.to_thread.run_sync(read_head, head_bytes, more, fmt)
            except ImportFileError as exc:
                return page(request, "imports/problem.html", status_code=422, message=exc.message, job=job)
            preset = str(job.options.get("preset", "csv"))
            signature = header_signature(head.headers)
            integration = await integrations_q.get_integration(conn, job.integration_id) if job.integration_id else None
            mapping = _mapping_from(form, head.headers, region, preset) if form is not None else None
            if mapping is None:
                saved = _saved_columns(integration.settings if integration else {}, signature)
                mapping = (
                    Mapping.from_choices(saved, head.headers, preset, default_region=region)
                    if saved
                    else Mapping.suggest(head.headers, preset, region)
                )
            preview = await build_preview(conn, supplier_id, job.source, head, mapping)
        recognised = recognise(head.headers) if preset == "csv" and head.format == "table" else None
        return page(
            request,
            "imports/preview.html",
            job=job,
            preview=preview,
            choices=TARGET_CHOICES,
            headers_indexed=list(enumerate(head.headers)),
            mapping_json=msgspec.json.encode(mapping).decode(),
            recognised=sources.REGISTRY[recognised].label if recognised else None,
            signature=signature,
            phone_regions=phone_choices(region),
            calling_code=calling_code,
        )

    @post("/{job_id:int}/start", name="import_start")
    async def start(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, job_id: int
    ) -> Response[str]:
        form = await read_form(request)
        try:
            mapping = msgspec.json.decode(form.get("mapping", ""), type=Mapping)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return Response("", status_code=303, headers={"location": f"/imports/{job_id}/preview"})
        if not any(
            t in ("partner1_first", "partner1_name", "couple_name", "name_with_email", "partner1_email")
            for t in mapping.columns.values()
        ):
            return Response("", status_code=303, headers={"location": f"/imports/{job_id}/preview"})
        async with tenant(res.pool, supplier_id) as conn:
            job = await jobs_q.get_job(conn, job_id)
            if job is None:
                raise NotFoundException("We couldn't find that import.")
            options = {**job.options, "mapping": msgspec.to_builtins(mapping)}
            queued = await lifecycle.queue_draft(conn, job_id, options)
            signature = form.get("signature", "")
            if queued and job.integration_id and re.fullmatch(r"[0-9a-f]{16}", signature):
                await integrations_q.save_mapping(conn, job.integration_id, signature, mapping.choices())
        if queued:
            send_job("file_import", supplier_id, job_id)
        return Response("", status_code=303, headers={"location": f"/jobs/{job_id}"})


def _mapping_from(form: dict[str, str], headers: list[str], region: str, preset: str) -> Mapping | None:
    allowed = {value for value, _ in TARGET_CHOICES}
    columns = {h: form.get(f"map_{i}", "") for i, h in enumerate(headers)}
    if any(v not in allowed for v in columns.values()):
        return None
    order = form.get("date_order") or None
    phones = form.get("phone_region") or None
    return Mapping.from_choices(
        {h: t for h, t in columns.items() if t},
        headers,
        preset,
        default_region=region,
        date_order=order if order in ("DMY", "MDY", "YMD") else None,  # type: ignore[arg-type]
        phone_region=phones if phones in phone_choices(region) else None,
    )


def phone_choices(studio_region: str) -> tuple[str, ...]:
    """The countries a file's numbers may be read in: the studio's, then the usual ones."""
    return (studio_region, *(r for r in CANDIDATE_REGIONS if r != studio_region))


def _saved_columns(settings: dict[str, object], signature: str) -> dict[str, str] | None:
    mappings = settings.get("mappings")
    if isinstance(mappings, dict):
        saved = mappings.get(signature)
        if isinstance(saved, dict):
            return {str(k): str(v) for k, v in saved.items()}
    return None
