"""The web console: a FastAPI app of server-rendered pages over :class:`ClusterView`.

Pages (HTML): ``/`` cluster overview, ``/topics`` and ``/topics/{name}``, the message
browser ``/topics/{name}/messages``, the trace view ``/trace/{trace_id}``, ``/groups``
and ``/groups/{id}``, ``/throughput`` and ``/shop`` (the e-commerce dashboard). JSON for
the live charts: ``/api/throughput``, ``/api/groups/{id}/lag``, ``/api/shop``; and
``/metrics``, the Kafka exporter's families computed as a client (any Kafka cluster).

Changes are POST forms: ``/topics`` (create), ``/topics/{name}/delete``,
``/groups/{id}/reset``. With ``read_only`` every one of them answers **403** with a page
saying so — enforced here on the server, whatever the page shows. Errors from the cluster
(:class:`CliError`) become a page with the one-line message and hint: 404 for unknown
topics/groups, 409 for a refused change, 502 for anything else.

Routes are plain (sync) functions: FastAPI runs them on its thread pool, and everything
they call is thread-safe (see :mod:`riverhead.console.kafka`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST

from riverhead.cli.client import Settings
from riverhead.cli.errors import CliError
from riverhead.console.exporter import exporter_metrics
from riverhead.console.kafka import ClusterView, Filters
from riverhead.console.samplers import Sampler
from riverhead.console.shop import ShopTail

HERE = Path(__file__).parent


@dataclass(frozen=True)
class ConsoleConfig:
    settings: Settings
    read_only: bool = False
    sample_interval: float = 2.0


def _when(ms: int | None) -> str:
    if ms is None or ms < 0:
        return ""
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def parse_time(text: str) -> int:
    """Milliseconds since the epoch from ``1700000000000`` or an ISO 8601 time (UTC
    unless it names a zone); ValueError with a hint otherwise."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"time {text!r} is neither milliseconds nor ISO 8601 (e.g. 2024-05-01T12:00:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def create_app(config: ConsoleConfig, *, view: ClusterView | None = None) -> FastAPI:
    view = view or ClusterView(config.settings)
    sampler = Sampler(view, interval=config.sample_interval)
    shop = ShopTail(view)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sampler.start()
        yield
        sampler.stop()
        shop.stop()

    app = FastAPI(title="Riverhead console", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = _when
    templates.env.filters["size"] = _size
    templates.env.globals["read_only"] = config.read_only
    templates.env.globals["bootstrap"] = config.settings.brokers
    app.state.view, app.state.sampler, app.state.shop = view, sampler, shop

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def error_page(request: Request, err: CliError) -> HTMLResponse:
        status = 502
        if err.name in ("UNKNOWN_TOPIC_OR_PARTITION", "GROUP_ID_NOT_FOUND"):
            status = 404
        elif err.name in ("READ_ONLY",):
            status = 403
        elif err.name in ("INVALID_ARGUMENT", "NON_EMPTY_GROUP", "TOPIC_ALREADY_EXISTS") or (
            err.name.startswith("INVALID_")
        ):
            status = 409
        return page(request, "error.html", status, error=err)

    @app.exception_handler(CliError)
    def _cli_error(request: Request, err: CliError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": err.name, "message": err.message}, status_code=502)
        return error_page(request, err)

    def refuse_if_read_only(action: str) -> None:
        if config.read_only:
            raise CliError(
                "READ_ONLY",
                f"the console runs with --read-only: {action} is not allowed",
                "restart the console without --read-only to make changes",
            )

    # ---- pages --------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, internal: bool = False) -> HTMLResponse:
        brokers, controller = view.brokers()
        topics = view.topics(internal=internal)
        partitions = [p for t in topics for p in t.partitions]
        return page(
            request,
            "overview.html",
            brokers=brokers,
            controller=controller,
            topics=topics,
            partitions=partitions,
            under=sum(1 for p in partitions if p.under_replicated),
            offline=sum(1 for p in partitions if p.offline),
            internal=internal,
        )

    @app.get("/topics", response_class=HTMLResponse)
    def topics_page(request: Request, internal: bool = False, deleted: str = "") -> HTMLResponse:
        return page(
            request,
            "topics.html",
            topics=view.topics(internal=internal),
            internal=internal,
            deleted=deleted,
        )

    @app.post("/topics")
    def create_topic(
        name: str = Form(...), partitions: int = Form(1), replication: int = Form(1)
    ) -> Response:
        refuse_if_read_only(f"creating topic {name!r}")
        view.create_topic(name.strip(), partitions, replication)
        return RedirectResponse(f"/topics/{name.strip()}", status_code=303)

    @app.get("/topics/{name}", response_class=HTMLResponse)
    def topic_page(request: Request, name: str) -> HTMLResponse:
        return page(request, "topic.html", topic=view.topic(name))

    @app.post("/topics/{name}/delete")
    def delete_topic(name: str) -> Response:
        refuse_if_read_only(f"deleting topic {name!r}")
        view.delete_topic(name)
        return RedirectResponse(f"/topics?deleted={name}", status_code=303)

    @app.get("/topics/{name}/messages", response_class=HTMLResponse)
    def messages(
        request: Request,
        name: str,
        partition: str = "",
        offset: str = "",
        time: str = "",
        key: str = "",
        value: str = "",
        header: str = "",
        limit: int = 50,
    ) -> HTMLResponse:
        try:
            part = int(partition) if partition.strip() else None
            start = int(offset) if offset.strip() else None
            at = parse_time(time) if time.strip() else None
        except ValueError as exc:
            raise CliError("INVALID_ARGUMENT", str(exc).split(":")[0], "check the form") from None
        records = view.browse(
            name,
            partition=part,
            offset=start,
            timestamp_ms=at,
            filters=Filters(key, value, header),
            limit=max(1, min(limit, 500)),
        )
        form = {
            "partition": partition,
            "offset": offset,
            "time": time,
            "key": key,
            "value": value,
            "header": header,
            "limit": limit,
        }
        return page(request, "messages.html", topic=view.topic(name), records=records, form=form)

    @app.get("/trace/{trace_id}", response_class=HTMLResponse)
    def trace(request: Request, trace_id: str, topics: str = "") -> HTMLResponse:
        wanted = [t.strip() for t in topics.split(",") if t.strip()] or None
        records = view.trace(trace_id.lower(), wanted)
        spans = {r.trace.span_id for r in records if r.trace is not None}
        return page(request, "trace.html", trace_id=trace_id, records=records, spans=spans)

    @app.get("/groups", response_class=HTMLResponse)
    def groups_page(request: Request) -> HTMLResponse:
        return page(request, "groups.html", groups=view.groups())

    @app.get("/groups/{group_id}", response_class=HTMLResponse)
    def group_page(request: Request, group_id: str, reset: str = "") -> HTMLResponse:
        group = view.group(group_id)
        if group.state == "Dead" and not group.lags:
            raise CliError(
                "GROUP_ID_NOT_FOUND", f"group {group_id!r} does not exist", "see /groups"
            )
        topics = sorted({r.topic for r in group.lags})
        return page(request, "group.html", group=group, topics=topics, reset=reset)

    @app.post("/groups/{group_id}/reset")
    def reset_offsets(group_id: str, topic: str = Form(...), to: str = Form(...)) -> Response:
        refuse_if_read_only(f"resetting the offsets of group {group_id!r}")
        view.reset_offsets(group_id, topic, to.strip())
        return RedirectResponse(f"/groups/{group_id}?reset={topic}", status_code=303)

    @app.get("/throughput", response_class=HTMLResponse)
    def throughput_page(request: Request) -> HTMLResponse:
        return page(request, "throughput.html")

    @app.get("/shop", response_class=HTMLResponse)
    def shop_page(request: Request) -> HTMLResponse:
        shop.start()
        return page(request, "shop.html")

    # ---- JSON for the live charts ------------------------------------------------------
    @app.get("/api/throughput")
    def api_throughput() -> dict[str, Any]:
        return sampler.throughput()

    @app.get("/api/groups/{group_id}/lag")
    def api_lag(group_id: str) -> dict[str, Any]:
        group = view.group(group_id)
        return {
            "history": sampler.lag_history(group_id),
            "partitions_history": sampler.partition_lag_history(group_id),
            "total": group.total_lag,
            "partitions": [
                {"topic": r.topic, "partition": r.partition, "lag": r.lag} for r in group.lags
            ],
        }

    @app.get("/metrics")
    def metrics() -> Response:
        """The Kafka exporter's families for this cluster (riverhead.console.exporter)."""
        return Response(exporter_metrics(view), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/shop")
    def api_shop() -> dict[str, Any]:
        shop.start()
        return shop.snapshot()

    return app
