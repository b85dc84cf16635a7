"""alertmanager.yml: the data model alerter runs on, and the loader that validates it.

Field names, defaults and validation follow Alertmanager (0.34) so that an unchanged
alertmanager.yml loads here and a broken one is refused with the message Alertmanager gives.
Importers use this package's names; the modules split the work by concept:

* model.py: the dataclasses (Config, Route, Receiver, ...), ConfigError and shared constants.
* loader.py: `load_config`/`load_config_file`, the three loading steps (read, validate, build).
* reader.py: strict YAML node reading like Go's yaml.v2, and the basic field converters.
* addresses.py, httpconfig.py: URLs, `host:port`, `http_config` and `tls_config`.
* receivers.py, integrations.py, routes.py, timeintervals.py, global_section.py: each section's
  fields and its own checks (integration_types.py: the integrations' typed and nested fields).
* validate.py: the whole-config checks; build.py and paths.py: the model with defaults applied.
* writeback.py: the config written back with secrets as `<secret>` (GET /api/v2/status).
* clustertls.py: not alertmanager.yml but the `--cluster.tls-config` file, read the same strict way.

Deliberate differences from Alertmanager:
* URL errors give the reason without the URL (Go quotes the whole URL, which may hold a token).
* Integrations are written back as given (secrets redacted) rather than with every template
  default Alertmanager fills in. Settings Alertmanager accepts but that cannot work are refused
  (service_limits.py).
* A service name as SMTP port (`smtp.example.org:submission`) is resolved when loading.
* prometheus/common's `*_ref` secret-manager fields are refused: Alertmanager never resolves them.
* What alerter cannot honour is refused with a message naming it, never loaded and ignored: the
  `tracing` section, `event_recorder` outputs, oauth2's jwt-bearer grant, and header names or
  values HTTP cannot carry (docs/compatibility.md, "http_config and webhook, newer fields").
* `routes: [null]`, which crashes Alertmanager, is read as an empty route.
* The config written back leaves out fields newer than Alertmanager 0.25 while they hold their
  default (Alertmanager writes them), so that amtool 0.25 can read it: see `Config.redacted_yaml`.
"""

from app.config.global_section import GLOBAL_URL_DEFAULTS
from app.config.loader import load_config, load_config_file
from app.config.model import (
    DEFAULT_EMAIL_HTML,
    DEFAULT_EMAIL_SUBJECT,
    SECRET,
    Authorization,
    BasicAuth,
    Config,
    ConfigError,
    EmailConfig,
    GlobalConfig,
    Header,
    HTTPConfig,
    InhibitRule,
    OAuth2,
    RawIntegration,
    Receiver,
    Route,
    TimeInterval,
    TimeRange,
    TLSConfig,
    WebhookConfig,
)

__all__ = [
    "DEFAULT_EMAIL_HTML",
    "DEFAULT_EMAIL_SUBJECT",
    "GLOBAL_URL_DEFAULTS",
    "SECRET",
    "Authorization",
    "BasicAuth",
    "Config",
    "ConfigError",
    "EmailConfig",
    "GlobalConfig",
    "HTTPConfig",
    "Header",
    "InhibitRule",
    "OAuth2",
    "RawIntegration",
    "Receiver",
    "Route",
    "TLSConfig",
    "TimeInterval",
    "TimeRange",
    "WebhookConfig",
    "load_config",
    "load_config_file",
]
