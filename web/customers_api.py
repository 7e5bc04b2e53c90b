"""HTTP API of GDPR export and erasure (admins only).

    GET    /api/customers/{id}/export    one zip of everything held about the customer
                                         (every row as JSON, recordings, attachments,
                                         voicemail; `cases.gdpr_erase.Gdpr.export`)
    DELETE /api/customers/{id}           erase all of it; 200 {"erasure": audit} (again: the
                                         same audit, nothing left to do)
    GET    /api/customers/{id}/erasure   the erasure's audit (no personal data), 404 if none

`{id}` is the customer's id as the case timeline shows it (`customer.id`). Errors are JSON
`{"error": {"code", "message", "where"?}}`: 400 for a malformed id, 404 for an unknown
customer, 409 `merged` for a customer merged into another (the message names it: export or
erase that one), 409 `erasure_refused` when a store may not erase now (a legal hold, a call being recorded or a
callback being dialed: nothing of the case rows was touched; try again later), 503 when a
store fails (what was erased stays erased; DELETE again finishes).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from cases.errors import CaseError
from cases.gdpr import ErasureRefused, MergedAway
from cases.gdpr_erase import Gdpr
from web.auth import Role, require
from web.auth.service import PRINCIPAL
from web.case_http import error, from_case_error

log = logging.getLogger(__name__)

GDPR: web.AppKey[Gdpr] = web.AppKey("gdpr", Gdpr)
_CHUNK = 1 << 16
_MAX_ID = 2**63 - 1


def _customer_id(request: web.Request) -> int | web.Response:
    raw = request.match_info["id"]
    # ASCII only: str.isdigit() also takes "¹" and "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= _MAX_ID:
        return error(400, "invalid_input", "a customer id is a positive integer", "id")
    return int(raw)


def _merged(exc: MergedAway) -> web.Response:
    return error(409, "merged", f"merged into customer {exc.target_id}", "id")


async def export_customer(request: web.Request) -> web.StreamResponse:
    customer_id = _customer_id(request)
    if isinstance(customer_id, web.Response):
        return customer_id
    directory = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="centralita-export-"))
    try:
        path = directory / f"customer-{customer_id}.zip"
        try:
            await request.app[GDPR].export(customer_id, path)
        except MergedAway as exc:
            return _merged(exc)
        except CaseError as exc:
            return from_case_error(exc)
        except OSError as exc:
            log.error("customer %d: export failed (%s)", customer_id, type(exc).__name__)
            return error(503, "storage_unavailable", "a store could not be read")
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{path.name}"',
            "Cache-Control": "no-store",
        })
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, _CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(shutil.rmtree, directory, True)


async def erase_customer(request: web.Request) -> web.Response:
    customer_id = _customer_id(request)
    if isinstance(customer_id, web.Response):
        return customer_id
    actor = request[PRINCIPAL].name
    try:
        record = await request.app[GDPR].erase(customer_id, actor=actor)
    except ErasureRefused as exc:
        return error(409, "erasure_refused", exc.reason, exc.store)
    except MergedAway as exc:
        return _merged(exc)
    except CaseError as exc:
        return from_case_error(exc)
    except OSError as exc:
        log.error("customer %d: erasure stopped (%s)", customer_id, type(exc).__name__)
        return error(503, "storage_unavailable", "a store failed; erase again to finish")
    return web.json_response({"erasure": record.to_json()})


async def get_erasure(request: web.Request) -> web.Response:
    customer_id = _customer_id(request)
    if isinstance(customer_id, web.Response):
        return customer_id
    try:
        record = await request.app[GDPR].erasure(customer_id)
    except CaseError as exc:
        return from_case_error(exc)
    if record is None:
        return error(404, "not_found", "no erasure of this customer")
    return web.json_response({"erasure": record.to_json()})


def add_customer_routes(app: web.Application, gdpr: Gdpr) -> None:
    """The GDPR routes, admins only."""
    app[GDPR] = gdpr
    router = app.router
    require(app, router.add_get("/api/customers/{id}/export", export_customer), Role.ADMIN)
    require(app, router.add_delete("/api/customers/{id}", erase_customer), Role.ADMIN)
    require(app, router.add_get("/api/customers/{id}/erasure", get_erasure), Role.ADMIN)
