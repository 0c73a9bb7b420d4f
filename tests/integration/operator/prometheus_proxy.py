"""A reverse proxy in front of Prometheus, as clusters often expose it (an Ingress or
kube-rbac-proxy in front of it): optionally over TLS, with a certificate signed by a private CA,
and requiring ``Authorization: Bearer <token>``; and it can play an outage (``down``). The key
pair and CA below exist only for these tests (valid from 2020 to 2120, for 127.0.0.1 and
localhost)."""

from __future__ import annotations

import hmac
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TEST_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBajCCAQ+gAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBrdWJldHVu
ZSB0ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAbMRkw
FwYDVQQDDBBrdWJldHVuZSB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAE3gGLBzjcDzJgVGugFfdGdbawrsiT2hE8SlGcXPunBtdpuP2VfgECNy+z3oKC
/SInhEdgXibg9Vfv/VuQnx5SOaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFMfNyoTRDIYOKakTOh8io5loeFcyMAoGCCqGSM49
BAMCA0kAMEYCIQDGGldnK6wcjxIySSECjYOsSCfatPRTLmrEvEbjQenvfAIhAIrH
vtgX9e28LrASPo3992U+FJ2wT00eI9eEe63DYxJ8
-----END CERTIFICATE-----
"""

TEST_SERVER_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBvjCCAWWgAwIBAgIBAjAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBrdWJldHVu
ZSB0ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAgMR4w
HAYDVQQDDBVwcm9tZXRoZXVzLm1vbml0b3JpbmcwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATXhuKS76mRK/0rSpTrb8XUs49o3PAQthz25eJbFfinZ1PonQzwE3j+
cMERhnhxzgyElC63luBUsBB7e2uhrttio4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYD
VR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGHBH8A
AAGCCWxvY2FsaG9zdDAdBgNVHQ4EFgQU87NgS3EO/GaT16zH9X043rqXYDAwHwYD
VR0jBBgwFoAUx83KhNEMhg4pqRM6HyKjmWh4VzIwCgYIKoZIzj0EAwIDRwAwRAIg
KhxMKYNjT9aBN3QRMpOUZAiGmWFFogdeieoSuJ3Ve+MCICTX2yfdJb4TdP3bdgMm
HnWDhtlSsfT/GqnJeh6KZZF6
-----END CERTIFICATE-----
"""

TEST_SERVER_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkuoP3FEWKw85gL7b
7oTwGKyAb7W9v7gF0IfZqRdUBhWhRANCAATXhuKS76mRK/0rSpTrb8XUs49o3PAQ
thz25eJbFfinZ1PonQzwE3j+cMERhnhxzgyElC63luBUsBB7e2uhrtti
-----END PRIVATE KEY-----
"""


class ReverseProxy:
    """HTTP (or HTTPS, ``tls``) on 127.0.0.1, port 0, in front of ``upstream``.

    Answers a request itself while ``down`` is set (503), or when ``token`` is given and the
    request lacks ``Authorization: Bearer <token>`` (401); forwards any other. Counts both
    (``refused``, ``forwarded``), and never logs the token."""

    def __init__(self, upstream: str, token: str | None = None, tls: bool = False) -> None:
        self.token = token
        self.down = threading.Event()
        self.forwarded = 0
        self.refused = 0
        self._lock = threading.Lock()
        proxy = self
        expected = f"Bearer {token}".encode() if token is not None else None

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.down.is_set():
                    proxy._count(forwarded=False)
                    self._answer(503, b"down for maintenance", "text/plain")
                    return
                given = (self.headers.get("Authorization") or "").encode()
                if expected is not None and not hmac.compare_digest(given, expected):
                    proxy._count(forwarded=False)
                    self._answer(401, b"Unauthorized", "text/plain")
                    return
                proxy._count(forwarded=True)
                headers = {"Content-Type": self.headers.get("Content-Type") or "text/plain"}
                request = urllib.request.Request(
                    upstream + self.path, body, headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, data = response.status, response.read()
                        kind = response.headers.get("Content-Type") or "application/json"
                except urllib.error.HTTPError as error:
                    status, data = error.code, error.read()
                    kind = error.headers.get("Content-Type") or "application/json"
                except OSError as error:  # upstream unreachable
                    status, data, kind = 502, str(error).encode(), "text/plain"
                self._answer(status, data, kind)

            do_GET = do_POST = _forward

            def _answer(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as directory:  # the key pair is read at once
                cert, key = Path(directory, "proxy.crt"), Path(directory, "proxy.key")
                cert.write_text(TEST_SERVER_CERT_PEM)
                key.write_text(TEST_SERVER_KEY_PEM)
                context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _count(self, forwarded: bool) -> None:
        with self._lock:
            if forwarded:
                self.forwarded += 1
            else:
                self.refused += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
