"""Every error leaves as problem+json (RFC 9457): a stable ``code``, the ``field`` it concerns,
and a message in the user's language. Bad input never becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ebank.common.errors import DomainError
from ebank.common.i18n import N_, gettext

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://ebank.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# pydantic error type → (our stable code, English message with pydantic's ctx placeholders)
PYDANTIC_ERRORS: dict[str, tuple[str, str]] = {
    "missing": ("field_required", "This field is required."),
    "string_too_long": ("too_long", "This field is limited to {max_length} characters."),
    "string_too_short": ("too_short", "This field needs at least {min_length} characters."),
    "too_long": ("too_many_items", "At most {max_length} items are allowed."),
    "too_short": ("too_few_items", "At least {min_length} items are needed."),
    "int_type": ("not_an_integer", "Enter a whole number."),
    "int_parsing": ("not_an_integer", "Enter a whole number."),
    "int_from_float": ("not_an_integer", "Enter a whole number."),
    "greater_than": ("too_small", "The value must be greater than {gt}."),
    "greater_than_equal": ("too_small", "The value must be at least {ge}."),
    "less_than": ("too_large", "The value must be less than {lt}."),
    "less_than_equal": ("too_large", "The value must be at most {le}."),
    "enum": ("invalid_choice", "Choose one of: {expected}."),
    "literal_error": ("invalid_choice", "Choose one of: {expected}."),
    "string_type": ("not_a_string", "Enter text."),
    "bool_type": ("not_a_boolean", "Enter true or false."),
    "bool_parsing": ("not_a_boolean", "Enter true or false."),
    "date_parsing": ("invalid_date", "Enter a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": ("invalid_date", "Enter a date as YYYY-MM-DD."),
    "date_type": ("invalid_date", "Enter a date as YYYY-MM-DD."),
    "json_invalid": ("malformed_json", "The request body is not valid JSON."),
    "model_attributes_type": ("invalid_body", "The request body must be a JSON object."),
    "dict_type": ("invalid_body", "The request body must be a JSON object."),
    "model_type": ("invalid_body", "The request body must be a JSON object."),
    "list_type": ("not_a_list", "Enter a list."),
    "extra_forbidden": ("unknown_field", "This field is not part of the request."),
    "string_pattern_mismatch": ("invalid_format", "This value does not have the expected format."),
}


def problem(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    text = gettext(message, **(params or {}))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": text,
        "status": status,
        "code": code,
        "detail": text,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    if params:
        body["params"] = {k: v for k, v in params.items() if isinstance(v, str | int | float)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        kind = str(error.get("type", ""))
        ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
        if "ebank_message" in ctx:  # raised by our own field types (ebank.web.fields)
            code, message = kind, ctx.pop("ebank_message")
        elif kind in PYDANTIC_ERRORS:
            code, message = PYDANTIC_ERRORS[kind]
        else:
            code, message = "invalid_value", N_("This value is not valid.")
        try:
            text = gettext(message, **ctx)
        except (KeyError, IndexError):
            text = gettext(message)
        # A malformed body has no field: pydantic's location is then a byte offset.
        field = "" if kind == "json_invalid" else _field_path(tuple(error.get("loc", ())))
        errors.append({"field": field, "code": code, "message": text})
    return errors


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, code: str, message: str) -> Response:
    from ebank.web.templating import render

    title = gettext("Not found") if status == 404 else gettext("The request cannot be completed")
    return render(
        request, "error.html", status_code=status, title=title, code=code, message=message
    )


def install(app: FastAPI) -> None:
    from fastapi.responses import RedirectResponse

    from ebank.web.security import CustomerLoginRequired, LoginRequired

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/staff/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(CustomerLoginRequired)
    async def _customer_login(request: Request, _exc: CustomerLoginRequired) -> RedirectResponse:
        from urllib.parse import quote

        # After logging in the browser comes back with a GET: a form's target is no page.
        target = request.url.path if request.method == "GET" else "/bank"
        return RedirectResponse(f"/bank/login?next={quote(target)}", status_code=303)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _is_page(request):
            return _error_page(request, exc.status, exc.code, gettext(exc.message, **exc.params))
        return problem(exc.status, exc.code, exc.message, field=exc.field, params=exc.params)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        if _is_page(request):
            messages = "; ".join(
                f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
            )
            return _error_page(
                request, 422, str(errors[0]["code"]) if errors else "invalid_request", messages
            )
        first = errors[0] if errors else {"code": "invalid_request", "field": None, "message": ""}
        if len(errors) == 1:  # its message is already in the user's language
            message, params = str(first["message"]), {}
        else:
            message = N_("The request is not valid: {count} problems.")
            params = {"count": len(errors)}
        return problem(
            422,
            str(first["code"]),
            message,
            field=first.get("field") or None,
            errors=errors,
            params=params,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {
            404: ("not_found", N_("There is nothing here.")),
            405: ("method_not_allowed", N_("This method is not allowed here.")),
            413: ("body_too_large", N_("The request body is too large.")),
        }
        code, message = codes.get(exc.status_code, ("http_error", N_("The request failed.")))
        if _is_page(request):
            return _error_page(request, exc.status_code, code, gettext(message))
        return problem(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return problem(500, "internal_error", "Something went wrong on our side; please try again.")
