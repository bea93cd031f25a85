"""Where SMS go: a JSON-lines file (the default, standing in for the phone network in development,
tests and the demo) or an HTTP gateway (``EBANK_SMS_GATEWAY=https://…``)."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

SEND_TIMEOUT_S = 5.0  # the longest one message may take to be handed over


class SmsGateway(Protocol):
    def send(self, *, to: str, text: str, at: datetime) -> None:
        """Hand one message over; raise if the gateway did not take it."""

    def close(self) -> None:
        """Release what a round of sending held."""


class FileGateway:
    """Appends one JSON line per message. One ``write`` of a line to a file opened for append is
    atomic enough for several processes; the lock keeps threads of this process in order."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None  # opened by the first message of a round, closed after it

    def send(self, *, to: str, text: str, at: datetime) -> None:
        line = json.dumps({"to": to, "text": text, "at": at.isoformat()}, ensure_ascii=False)
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(self._fd, (line + "\n").encode())

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: followed, urllib would turn the POST into
    a GET without the message, whose 200 would count as a send."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class HttpGateway:
    """Posts ``{"to", "text", "at"}`` as JSON; any status but 2xx (a redirect included) is a
    failure the outbox retries."""

    def __init__(self, url: str, timeout_s: float = SEND_TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must be http(s)")
        self.url = url
        self.timeout_s = timeout_s

    def send(self, *, to: str, text: str, at: datetime) -> None:
        body = json.dumps({"to": to, "text": text, "at": at.isoformat()}).encode()
        request = urllib.request.Request(  # noqa: S310  # the scheme is checked above
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with _OPENER.open(request, timeout=self.timeout_s) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"SMS gateway answered {response.status}")

    def close(self) -> None:
        """Nothing is held between messages."""


def gateway_for(setting: str, var_dir: Path) -> SmsGateway:
    if setting.startswith(("http://", "https://")):
        return HttpGateway(setting)
    if setting == "file":
        return FileGateway(var_dir / "sms-outbox.jsonl")
    return FileGateway(Path(setting))
