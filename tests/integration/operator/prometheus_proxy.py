"""Prometheus behind an authenticating TLS reverse proxy, as clusters often expose it (an
Ingress or kube-rbac-proxy in front of it): every request needs ``Authorization: Bearer
<token>``, and the certificate is signed by a private CA. The key pair and CA below exist only
for these tests (valid from 2020 to 2120, for 127.0.0.1 and localhost)."""

from __future__ import annotations

import hmac
import ssl
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


class AuthenticatingProxy:
    """HTTPS on 127.0.0.1 in front of ``upstream``: a request with the right bearer token is
    forwarded, any other is answered 401. Counts both, and never logs the token."""

    def __init__(self, upstream: str, token: str, work_dir: Path) -> None:
        self.token = token
        self.authorized = 0
        self.refused = 0
        self._lock = threading.Lock()
        proxy = self
        expected = f"Bearer {token}".encode()

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                given = (self.headers.get("Authorization") or "").encode()
                if not hmac.compare_digest(given, expected):
                    proxy._count(authorized=False)
                    self._answer(401, b"Unauthorized", "text/plain")
                    return
                proxy._count(authorized=True)
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

        cert, key = work_dir / "proxy.crt", work_dir / "proxy.key"
        cert.write_text(TEST_SERVER_CERT_PEM)
        key.write_text(TEST_SERVER_KEY_PEM)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _count(self, authorized: bool) -> None:
        with self._lock:
            if authorized:
                self.authorized += 1
            else:
                self.refused += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
