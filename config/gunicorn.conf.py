"""gunicorn settings for alerter's web tier (`alerter web`), read from the environment.

Use it when running the web tier under a gunicorn command line or a platform that passes
settings by environment (Procfile hosts set PORT and WEB_CONCURRENCY). Every value is also a
sensible default for `alerter web`, which sets the same ones from its flags.

    PORT / GUNICORN_BIND   where to listen (GUNICORN_BIND wins; default 0.0.0.0:9093)
    WEB_CONCURRENCY        worker processes (default 2)
    GUNICORN_THREADS       threads per worker (default 4)
    GUNICORN_ACCESSLOG     access log destination ("-" for stderr); unset = no access log
"""

from __future__ import annotations

import os


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


# Alertmanager's port by default, so Prometheus configs written for Alertmanager still work.
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int_env('PORT', 9093)}"]

# Several processes: one slow request (a big alert batch, a Redis hiccup) cannot stall the
# others, and a crashed worker is replaced by the master while the rest keep serving.
workers = _int_env("WEB_CONCURRENCY", 2)

# Requests spend most of their time waiting on Redis; threads overlap those waits within a
# worker. Threads rather than gevent: redis-py and Flask need no monkey-patching this way.
# GUNICORN_THREADS=1 runs the sync worker instead (gunicorn's own rule when no class is set):
# one request per process at a time and no keep-alive, but less CPU per request; it needs more
# processes (WEB_CONCURRENCY=4 on 2 cores), see docs/performance.md.
threads = _int_env("GUNICORN_THREADS", 4)
worker_class = "sync" if threads == 1 else "gthread"

# Each app builds its Redis connections after the fork: a connection pool inherited across
# fork() would be shared by several processes and corrupt the protocol stream.
preload_app = False

# Prometheus keeps its connections to Alertmanager open and posts every evaluation interval.
# gunicorn's default of 2s would close them between posts; 75s also outlasts the usual 60s
# idle timeout of load balancers, so the balancer, not gunicorn, closes idle connections first
# (otherwise a request can race the close and get a 502).
keepalive = 75

# A worker that does not check in for 30s (stuck on a dead Redis connection) is killed and
# replaced; alert posts normally take milliseconds.
timeout = 30

# On SIGTERM (deploy, scale-down) finish in-flight requests for up to 10s, then exit. A lost
# post is harmless (Prometheus re-sends every alert on each evaluation), so shutdowns stay
# short.
graceful_timeout = 10

# Off by default: every Prometheus server posts to every instance at each evaluation, which
# would fill the log with lines nobody reads. Errors still go to stderr.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"

# Worker heartbeats are files; on tmpfs they cannot stall on a slow or overlay disk (Docker).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

proc_name = "alerter-web"
