"""The Airflow plugin: the Trends page at ``/trends/`` and a "Trends" entry in the UI's nav.

Airflow serves plugin FastAPI apps without any authentication of their own, so every route
here depends on :func:`require_login`, which reuses Airflow's own
``airflow.api_fastapi.core_api.security.get_user``: a ``Authorization: Bearer`` token (REST
clients) or the UI's ``_token`` cookie (people logged in to the UI). Without a valid one,
a browser is redirected to Airflow's login page (and comes back afterwards), any other
client gets 401. ``get_user`` is internal API: the version is pinned (apache-airflow 3.3.x)
and ``tests/airflow`` checks both the refusal and the logged-in page against a real server.

The page is computed in a worker thread (a plain ``def`` route), so DuckDB never blocks the
API server's event loop.
"""

from __future__ import annotations

import logging
from typing import Annotated

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["TrendsPlugin", "app", "require_login"]

log = logging.getLogger(__name__)

PREFIX = "/trends"
_bearer = HTTPBearer(auto_error=False)


class _LoginRedirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def require_login(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> object:
    """The logged-in Airflow user, or a redirect to the login page (browsers) / 401."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, credentials)
    except HTTPException as exc:
        if exc.status_code in (401, 403) and _wants_html(request) and credentials is None:
            next_url = f"{PREFIX}/"
            if request.url.query:
                next_url += f"?{request.url.query}"
            raise _LoginRedirect(get_auth_manager().get_url_login(next_url=next_url)) from exc
        raise HTTPException(status_code=401, detail="Not authenticated: log in to Airflow",
                            headers={"WWW-Authenticate": "Bearer"}) from exc


app = FastAPI(title="Russia–Asia monitor: Trends", docs_url=None, redoc_url=None,
              openapi_url=None)


@app.exception_handler(_LoginRedirect)
async def _redirect_to_login(_request: Request, exc: _LoginRedirect) -> Response:
    return RedirectResponse(exc.location, status_code=303)


@app.get("/", response_class=HTMLResponse)
def trends_page(
    _user: Annotated[object, Depends(require_login)],
    days: Annotated[str | None, Query()] = None,
    dyad: Annotated[str | None, Query()] = None,
) -> Response:
    """The Trends page; 503 with Retry-After while the warehouse snapshot is unavailable.

    ``?days=`` is any whole number from 1 to ``page.MAX_DAYS`` (3650); ``?dyad=`` one of the
    relations. Anything else is a 400 that says what is allowed, never silently replaced.
    """
    from monitor.settings import load_settings
    from monitor.ui.page import (
        BadRequest,
        Busy,
        load,
        parse_query,
        render,
        render_busy,
        render_error,
    )

    try:
        n_days, dyad = parse_query(days, dyad)
    except BadRequest as exc:
        return HTMLResponse(render_error(str(exc)), status_code=400,
                            headers={"Cache-Control": "no-store"})
    settings = load_settings()
    try:
        data = load(settings, days=n_days, dyad=dyad)
    except Busy as exc:
        log.info("trends page busy: %s", exc)
        return HTMLResponse(render_busy(str(exc), exc.retry_after), status_code=503,
                            headers={"Retry-After": str(exc.retry_after),
                                     "Cache-Control": "no-store"})
    return HTMLResponse(render(data), headers={"Cache-Control": "no-store"})


@app.get("/health")
def trends_health(_user: Annotated[object, Depends(require_login)]) -> JSONResponse:
    """Whether the read snapshot exists and how old it is (for monitoring the monitor)."""
    import time

    from monitor.settings import load_settings

    path = load_settings().snapshot_path
    if not path.exists():
        return JSONResponse({"snapshot": None}, status_code=503, headers={"Retry-After": "15"})
    return JSONResponse({"snapshot": str(path),
                         "age_seconds": round(time.time() - path.stat().st_mtime, 1)})


class TrendsPlugin(AirflowPlugin):
    """Adds the Trends page (``/trends/``) and its navigation entry to the Airflow UI."""

    name = "monitor_trends"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "Trends"}]
    external_views = [{
        "name": "Trends",
        "href": f"{PREFIX}/",
        "destination": "nav",
        "url_route": "trends",
    }]
