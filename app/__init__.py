"""alerter: an Alertmanager-compatible alert router whose cluster state lives in Redis."""

from importlib import metadata

try:
    __version__ = metadata.version("alerter")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "unknown"

# What alerter follows (printed by --version): Alertmanager's API, and the releases whose flags
# and alertmanager.yml it accepts (docs/flags.md, docs/compatibility.md).
ALERTMANAGER_API = "v2"
ALERTMANAGER_RELEASES = "0.25 to 0.34"
