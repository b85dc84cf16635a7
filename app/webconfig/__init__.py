"""`--web.config.file`: TLS, basic authentication, response headers and rate limiting for every
route alerter serves, from Prometheus' exporter-toolkit web configuration file."""

from app.webconfig.guard import WebGuard
from app.webconfig.model import WebConfig, WebConfigError, read_web_config
from app.webconfig.tls import ServerTLS

__all__ = ["ServerTLS", "WebConfig", "WebConfigError", "WebGuard", "read_web_config"]
