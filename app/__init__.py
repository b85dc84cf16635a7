"""alerter: an Alertmanager-compatible alert router whose cluster state lives in Redis."""

from importlib import metadata

try:
    __version__ = metadata.version("alerter")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "unknown"
