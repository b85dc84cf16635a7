"""The server side TLS of `tls_server_config`: an `ssl.SSLContext` for gunicorn or werkzeug,
and a watcher that loads a rotated certificate into it.

The toolkit reads the certificate from disk for every handshake. alerter's servers take one
SSLContext for the life of the process, so a daemon thread compares the files' modification
times every `RELOAD_CHECK` seconds and loads the new pair into that same context, which OpenSSL
uses for every later handshake. Inline `cert`/`key`/`client_ca` are written to private temporary
files, since OpenSSL loads certificate chains from files.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading

from app.webconfig.model import TLSServerConfig, WebConfigError

log = logging.getLogger(__name__)

RELOAD_CHECK = 1.0


def _pem_file(directory: str, name: str, pem: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)
    return path


class ServerTLS:
    """One process's server SSLContext for a `tls_server_config`, kept current."""

    def __init__(self, cfg: TLSServerConfig, http2: bool = False) -> None:
        self.cfg = cfg
        self._dir = tempfile.mkdtemp(prefix="alerter-tls-")
        self.cert_file = cfg.cert_file or _pem_file(self._dir, "cert.pem", cfg.cert)
        self.key_file = cfg.key_file or _pem_file(self._dir, "key.pem", cfg.key)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx = self.context
        ctx.minimum_version = cfg.min_version
        ctx.maximum_version = cfg.max_version
        if cfg.openssl_ciphers:
            try:
                ctx.set_ciphers(":".join(cfg.openssl_ciphers))
            except ssl.SSLError as err:
                raise WebConfigError(f"tls_server_config.cipher_suites: {err}") from None
        if cfg.prefer_server_cipher_suites:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        ctx.verify_mode = cfg.client_auth
        try:
            if cfg.client_ca_file:
                ctx.load_verify_locations(cafile=cfg.client_ca_file)
            elif cfg.client_ca:
                ctx.load_verify_locations(cadata=cfg.client_ca)
        except (OSError, ssl.SSLError) as err:
            raise WebConfigError(f"tls_server_config client CA: {err}") from None
        if http2:
            ctx.set_alpn_protocols(["h2", "http/1.1"])
        self._stamp = self._file_stamp()
        self._load()

    def _file_stamp(self) -> tuple[float, float]:
        try:
            return (os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime)
        except OSError:
            return (0.0, 0.0)

    def _load(self) -> None:
        try:
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as err:
            raise WebConfigError(
                f"failed to load the certificate {self.cert_file} and key {self.key_file}: {err}"
            ) from None

    def reload_if_changed(self) -> bool:
        """Load the certificate and key again if either file changed; a broken pair keeps the
        one in use (and is logged), as a half-written rotation must not take the server down."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        try:
            self._load()
        except WebConfigError as err:
            log.error("keeping the TLS certificate in use", extra={"fields": {"err": str(err)}})
            return False
        self._stamp = stamp
        log.info("loaded a new TLS certificate", extra={"fields": {"cert_file": self.cert_file}})
        return True

    def watch(self, stop: threading.Event | None = None) -> None:
        """Check for rotated files in a daemon thread for the life of the process."""
        halt = stop or threading.Event()

        def loop() -> None:
            while not halt.wait(RELOAD_CHECK):
                self.reload_if_changed()

        threading.Thread(target=loop, daemon=True, name="tls-reload").start()
