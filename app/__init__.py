"""alerter: an Alertmanager-compatible alert router whose cluster state lives in Redis."""

import platform
from importlib import metadata

try:
    __version__ = metadata.version("alerter")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "unknown"

# What alerter follows (printed by --version): Alertmanager's API, and the releases whose flags
# and alertmanager.yml it accepts (docs/flags.md, docs/compatibility.md).
ALERTMANAGER_API = "v2"
ALERTMANAGER_RELEASES = "0.25 to 0.34"


def version_info() -> dict[str, str]:
    """Alertmanager's build fields, as `versionInfo` of GET /api/v2/status and the labels of
    alertmanager_build_info report them: alerter's version, and Python where Alertmanager names
    its Go version (no revision, branch or build user is recorded at install)."""
    return {
        "version": __version__,
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
    }
