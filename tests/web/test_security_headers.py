"""The headers every response carries: nothing a customer saw is cached, content types are not
guessed, pages refuse frames and run only the bank's own scripts, HTTPS is remembered."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ebank.web.middleware import PAGE_POLICY, security_headers


def test_api_answers_are_never_cached_nor_sniffed(client: TestClient) -> None:
    for response in (client.get("/api/v1/health"), client.get("/api/v1/no-such-route")):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "content-security-policy" not in response.headers
    assert client.get("/api/v1/no-such-route").status_code == 404


def test_pages_refuse_frames_and_foreign_scripts(client: TestClient) -> None:
    response = client.get("/bank/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert "frame-ancestors 'none'" in PAGE_POLICY
    assert "script-src 'self'" in PAGE_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_the_banks_static_files_may_be_cached(client: TestClient) -> None:
    response = client.get("/static/ebank.css")
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_https_is_remembered_only_when_the_request_came_over_it(client: TestClient) -> None:
    secure = TestClient(client.app, base_url="https://testserver")
    assert secure.get("/api/v1/health").headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in client.get("/api/v1/health").headers


def test_a_routes_own_cache_control_is_kept() -> None:
    own = [(b"content-type", b"application/json"), (b"Cache-Control", b"private, max-age=60")]
    added = dict(security_headers(own, cacheable=False, secure=False))
    assert b"cache-control" not in added
    assert added[b"x-content-type-options"] == b"nosniff"
