"""Health of the application and its dependencies: `/healthz` (readiness, per role) and `/livez`.

`/livez` only says the process answers: the supervisor restarts a process that
does not. `/healthz` checks each dependency and answers 503 when one that the
asking role needs is down:

- `web` (default): the database. Redis is reported, not required: without it
  the pages go on (config/cache.py), sessions read from the database;
- `worker`: the database and Redis (the broker);
- `beat`: Redis;
- `exchanges`: what an exchange needs to run: database, Redis, and a worker
  seen lately (exchanges.alerts.worker_silent_since).

The last successful exchange of each direction is reported for monitoring. No
URL, host or credential appears in the answer.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import public
from accounts.roles import Capability, has_capability
from config.cache import cache_is_down
from exchanges.alerts import worker_silent_since
from exchanges.runs import Direction, ExchangeRun, RunStatus, last_worker_seen

REQUIRED = {
    "web": ("database",),
    "worker": ("database", "redis"),
    "beat": ("redis",),
    "exchanges": ("database", "redis", "worker"),
}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return {"status": "down"}
    return {"status": "ok"}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"status": "not_configured"}  # embedded mode: no broker, tasks in the web process

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError:
        return {"status": "down"}
    return {"status": "ok"}


def check_worker(database: dict) -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "not_configured"}
    if database["status"] != "ok":
        return {"status": "unknown"}

    last = last_worker_seen()
    return {
        "status": "ok" if worker_silent_since() is False else "down",
        "last_seen": last.isoformat() if last else None,
    }


def last_exchanges(database: dict) -> dict:
    if database["status"] != "ok":
        return {}

    result = {}
    for direction in Direction:
        run = (
            ExchangeRun.objects.filter(direction=direction, status=RunStatus.SUCCEEDED)
            .order_by("-finished_at")
            .only("finished_at")
            .first()
        )
        result[str(direction)] = run.finished_at.isoformat() if run else None
    return result


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    role = request.GET.get("role", "web")
    if role not in REQUIRED:
        return JsonResponse(
            {"status": "error", "error": "unknown role", "roles": sorted(REQUIRED)}, status=400
        )
    database = check_database()
    checks = {"database": database, "redis": check_redis(), "worker": check_worker(database)}
    down = [name for name in REQUIRED[role] if checks[name]["status"] in ("down", "unknown")]
    degraded = [name for name, check in checks.items() if check["status"] == "down" and name not in down]
    status = "error" if down else "degraded" if degraded else "ok"
    body = {
        "status": status,
        "role": role,
        "checks": checks,
        "last_successful_exchange": last_exchanges(database),
    }
    return JsonResponse(body, status=503 if down else 200)


@public
@never_cache
@require_GET
def livez(request: HttpRequest) -> HttpResponse:
    """The process answers; nothing else is asked (a supervisor's liveness probe)."""
    return JsonResponse({"status": "alive"})


def degraded(request: HttpRequest) -> dict:
    """Context processor: the banner admins see while the pages work without Redis."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not cache_is_down():
        return {}
    if not has_capability(user, Capability.MANAGE_EXCHANGES):
        return {}
    return {
        "degraded_banner": _(
            "Mode dégradé : Redis ne répond pas. Les pages fonctionnent (comptages recalculés, "
            "sessions lues en base) mais plus lentement, et les échanges attendent son retour."
        )
    }
