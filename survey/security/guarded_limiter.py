"""Flask-Limiter, looking limits up only for the views a Guard names (survey/security/limits.py
declares the guards and builds the limiter)."""

from flask import Flask, request
from flask_limiter import Limiter


class GuardedLimiter(Limiter):
    """Flask-Limiter whose before-request hook returns at once on views no Guard names.

    Flask-Limiter otherwise resolves every view's limits, an empty list for all but a few, and
    evaluates that list, on each request: 0.05-0.1 ms of the 0.76 ms of CPU a page that does
    nothing else costs (benchmarks/request_cpu.py). `guarded_endpoints` is None (look
    everything up, as Flask-Limiter does) until `look_up_guarded_views_only` sets it."""

    guarded_endpoints: frozenset[str] | None = None

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        if self.guarded_endpoints is not None and request.endpoint not in self.guarded_endpoints:
            return None
        return super()._check_request_limit(callable_name, in_middleware)


def look_up_guarded_views_only(app: Flask, limiter: GuardedLimiter) -> None:
    """Once the guards are on their views: limit look-ups for those views only, unless a
    setting puts a limit on every view (Flask-Limiter's default, application or meta limits)."""
    if (
        app.config.get("RATELIMIT_DEFAULT")
        or app.config.get("RATELIMIT_APPLICATION")
        or app.config.get("RATELIMIT_META")
    ):
        return
    limiter.guarded_endpoints = guarded_endpoints(app)


def guarded_endpoints(app: Flask) -> frozenset[str]:
    """The endpoints some Guard is declared on (the limiter's wrapper keeps a view's
    `rate_limits`, so they are still readable once the limits are on)."""
    return frozenset(
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "rate_limits", ())
    )
