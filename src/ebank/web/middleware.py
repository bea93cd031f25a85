"""ASGI middleware: the request's language, a cap on request body size, and the security headers
of every response."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ebank.common.i18n import current_locale, gettext, negotiate_locale, normalize_locale

LANG_COOKIE = "ebank_lang"


class LocaleMiddleware:
    """Choose zh-CN or English (``?lang=`` → cookie → Accept-Language) for the whole request;
    an explicit ``?lang=`` is remembered in a cookie."""

    def __init__(self, app: ASGIApp, default_locale: str) -> None:
        self.app = app
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        explicit = normalize_locale((query.get("lang") or [None])[0])
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header must not break the request
            cookies = SimpleCookie()
        cookie = cookies[LANG_COOKIE].value if LANG_COOKIE in cookies else None
        locale = negotiate_locale(
            explicit, cookie, headers.get("accept-language"), self.default_locale
        )
        scope.setdefault("state", {})["locale"] = locale
        token = current_locale.set(locale)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"content-language", locale.encode())]
                if explicit:
                    extra.append(
                        (
                            b"set-cookie",
                            f"{LANG_COOKIE}={locale}; Path=/; Max-Age=31536000; SameSite=Lax".encode(),
                        )
                    )
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            current_locale.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 problem, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body: dict[str, Any] = {
        "type": "https://ebank.example/problems/body_too_large",
        "title": gettext("The request body is too large."),
        "status": 413,
        "code": "body_too_large",
        "detail": gettext("The request body is too large."),
    }
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# Pages run only the bank's own scripts and styles, and no other site may frame them (a
# transparent frame over a payment form is how clickjacking takes a customer's click).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"  # a year: once on HTTPS, the browser never tries plain HTTP again


class SecurityHeadersMiddleware:
    """The headers every bank response carries: nothing a customer saw is kept in a browser's
    or proxy's cache (``no-store``; the bank's static files excepted), content types are not
    guessed, no address with a customer's data leaves the site as a referrer, pages get their
    content security policy and refuse frames, and over HTTPS the browser is told to stay on it."""

    def __init__(self, app: ASGIApp, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.static_prefix)
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = headers + security_headers(headers, cacheable, secure)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(
    headers: list[tuple[bytes, bytes]], cacheable: bool, secure: bool
) -> list[tuple[bytes, bytes]]:
    """What :class:`SecurityHeadersMiddleware` adds to a response with these headers."""
    names = {name.lower() for name, _ in headers}
    extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
    if not cacheable and b"cache-control" not in names:
        extra.append((b"cache-control", b"no-store"))
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if content_type.startswith(b"text/html"):
        extra += [
            (b"content-security-policy", PAGE_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
        ]
    if secure:
        extra.append((b"strict-transport-security", HSTS.encode()))
    return extra
