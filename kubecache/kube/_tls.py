"""TLS for both clients: the cluster CA (or the system's), client certificates.

``make_ssl_context(config)``: the cluster CA (file or inline PEM) is the only
trust root when given, else the system's; the client certificate and key
(file or inline); ``insecure-skip-tls-verify`` turns verification off and
logs a warning. ``load_client_cert`` also loads what an exec plugin returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ._errors import CredentialError
from .config import Config, redacted_url

__all__ = ["load_client_cert", "make_ssl_context"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _pem_files(cert: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """Inline PEM written to private temporary files (``ssl`` loads chains only from files)."""
    paths: list[str] = []
    try:
        for data in (cert, key):
            fd, path = tempfile.mkstemp(prefix="kubecache-", suffix=".pem")
            paths.append(path)
            with os.fdopen(fd, "wb") as fh:  # mkstemp creates the file with mode 0600
                fh.write(data)
        yield paths[0], paths[1]
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)


def load_client_cert(ctx: ssl.SSLContext, cert_file: str | None, key_file: str | None,
                     cert_data: bytes | None, key_data: bytes | None) -> None:
    """Load a client certificate and key (files or inline PEM, mixed) into ``ctx``."""
    try:
        if cert_data is None and key_data is None:
            ctx.load_cert_chain(str(cert_file), str(key_file))
            return
        cert = cert_data if cert_data is not None else Path(str(cert_file)).read_bytes()
        key = key_data if key_data is not None else Path(str(key_file)).read_bytes()
        with _pem_files(cert, key) as (cpath, kpath):
            ctx.load_cert_chain(cpath, kpath)
    except (ssl.SSLError, OSError) as exc:
        raise CredentialError(f"client certificate/key could not be loaded "
                              f"({type(exc).__name__}: {getattr(exc, 'reason', None) or 'invalid'})"
                              ) from None


def make_ssl_context(config: Config) -> ssl.SSLContext:
    """The TLS context for ``config``: its CA (or the system's), its client certificate."""
    try:
        ctx = ssl.create_default_context(
            cafile=config.ca_file,
            cadata=config.ca_data.decode("ascii", "replace") if config.ca_data else None)
    except (ssl.SSLError, OSError, ValueError) as exc:
        what = repr(config.ca_file) if config.ca_file else "certificate-authority-data"
        raise CredentialError(f"cluster CA {what} could not be loaded "
                              f"({type(exc).__name__})") from None
    if config.insecure_skip_tls_verify:
        logger.warning("TLS certificate verification is disabled for %s "
                       "(insecure-skip-tls-verify); the connection can be intercepted",
                       redacted_url(config.server))
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.client_cert_file or config.client_cert_data:
        load_client_cert(ctx, config.client_cert_file, config.client_key_file,
                         config.client_cert_data, config.client_key_data)
    return ctx
