"""Credentials that must never show up anywhere: bearer-token checks and error-text redaction.

A token is checked before any HTTP header is built from it: http.client refuses header values
with line breaks, and its error text quotes the whole value, which would then travel into a
TuningJob's status, an Event and the operator log. Error texts from the HTTP stack are
redacted as well, in case a secret reaches them some other way (a URL's password, say).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"
# Visible ASCII and the space: what a header value may carry without being mangled or refused.
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


class InvalidToken(ValueError):
    """A bearer token that cannot be sent; the message never contains the token."""


def checked_bearer_token(token: str | None) -> str | None:
    """The token without surrounding whitespace (a Secret written with ``echo`` ends in a line
    break), or InvalidToken if what remains could not be sent as a header value."""
    if token is None:
        return None
    token = token.strip()
    if not token:
        return None
    if not _HEADER_SAFE.fullmatch(token):
        bad = next(i for i, c in enumerate(token) if not _HEADER_SAFE.fullmatch(c))
        kind = "a line break" if token[bad] in "\r\n" else "a control or non-ASCII character"
        raise InvalidToken(
            f"the Prometheus bearer token contains {kind} (at character {bad + 1} of "
            f"{len(token)}): it was not sent; store a single-line token in the Secret"
        )
    return token


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and every line and escaped form of one) and any URL
    password replaced by ``[redacted]``."""
    pieces: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for form in (secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode()):
            pieces.add(form)
            pieces.update(line.strip() for line in form.splitlines())
    for piece in sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True):
        text = text.replace(piece, REDACTED)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)


def display_url(url: str) -> str:
    """``url`` without a password in its user info, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{netloc[2]}"))
