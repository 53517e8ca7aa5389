"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each value can be overridden on the command line or with GUNICORN_CMD_ARGS."""

import multiprocessing
import os
import sys

bind = os.environ.get("SURVEY_BIND", "127.0.0.1:8000")
# Worker model and counts, measured on a 2-CPU machine (docs/performance.md, "Workers,
# threads and several nodes"; python benchmarks/run_all.py --only workers), gthread x 4
# threads, patient page req/s and submits/s, each against floors run with the same count:
#   1 worker 300 / 86, 2 workers 390 / 90, 4 workers 692 / 133
# gthread, because at equal processes threads overlap each request's database round trips
# and keep HTTP connections alive, which sync workers do not (2x4 threads served more than 4
# sync workers in the first sweep). 2 x CPUs workers, because one worker's Python runs on one
# core at a time and two per machine leave a core idle while each waits on PostgreSQL; more
# only add memory and database connections (each worker's pool holds up to 15).
workers = int(os.environ.get("SURVEY_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("SURVEY_THREADS", 4))
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then, with jitter so they do not all restart at once
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
logger_class = "survey.gunicorn_logging.RedactingLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
forwarded_allow_ips = os.environ.get("SURVEY_FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Refuse to start several workers that would each keep rate-limit counts of their own:
    with memory:// every worker would let through the whole limit (docs/security.md)."""
    storage = os.environ.get("SURVEY_RATELIMIT_STORAGE_URI", "").strip()
    enabled = os.environ.get("SURVEY_RATELIMIT_ENABLED", "true").strip().lower()
    if storage.startswith("memory:") and enabled not in ("false", "0") and server.cfg.workers > 1:
        sys.exit(
            f"SURVEY_RATELIMIT_STORAGE_URI={storage} counts rate limits in each of the "
            f"{server.cfg.workers} workers separately, which multiplies every limit. Leave it "
            "unset (counts go to the service's database) or use redis://, or run one worker."
        )
