"""`GET /metrics` over HTTP: on the main app behind a role, or on a listener of its own.

Which one is the `metrics:` setting's say (`centralita.metrics_config`). On the main app the
route is declared with `web.auth.require`, so the auth middleware answers 401 without
credentials and 403 below the role, like every other route. The separate listener has only
this route and no login: its address is its protection.
"""

from __future__ import annotations

from aiohttp import web

from centralita.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from web.auth import Role, require

METRICS: web.AppKey[ServerMetrics] = web.AppKey("metrics", ServerMetrics)


async def metrics_page(request: web.Request) -> web.Response:
    body = await request.app[METRICS].exposition()
    # prometheus_client's type carries its own charset parameter; aiohttp wants it apart.
    mime, _, _ = CONTENT_TYPE_LATEST.partition(";")
    return web.Response(body=body, content_type=mime, charset="utf-8")


def add_metrics_route(app: web.Application, metrics: ServerMetrics, role: Role) -> None:
    """`/metrics` on the main app for `role` and above."""
    app[METRICS] = metrics
    require(app, app.router.add_get("/metrics", metrics_page), role)


async def serve_metrics_apart(metrics: ServerMetrics, host: str, port: int) -> web.AppRunner:
    """`/metrics` alone on `host:port`, without login; the caller cleans the runner up."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the separate listener took (useful when configured as 0)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the metrics listener is not bound")
