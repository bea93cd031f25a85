"""Request and response bodies of the customer authentication API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ebank.auth.strength import Factor

Method = Literal["sms", "totp", "hotp", "usbkey", "passkey"]
LoginChannel = Literal["online", "mobile"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginChallengeIn(_Request):
    login_name: str = Field(max_length=64)
    method: Literal["sms", "usbkey", "passkey"]


class ChallengeOut(BaseModel):
    id: str
    method: str
    expires_at: datetime
    sent_to: str | None = None
    sign_payload: str | None = None
    webauthn: dict[str, Any] | None = None


class LoginIn(_Request):
    login_name: str = Field(max_length=64)
    password: str | None = Field(default=None, max_length=128)
    method: Method
    channel: LoginChannel = "online"
    challenge_id: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=16)
    signature: str | None = Field(default=None, max_length=512)
    credential: dict[str, Any] | None = None
    device_name: str | None = Field(default=None, max_length=128)


class LoginOut(BaseModel):
    token: str
    csrf_token: str
    expires_at: datetime
    customer_id: int
    device_id: str
    new_device: bool
    factors: list[str]


class TokenEnrolIn(_Request):
    kind: Literal["totp", "hotp"]
    secret_base32: str | None = Field(default=None, max_length=128)


class UsbKeyEnrolIn(_Request):
    public_key_pem: str = Field(max_length=4096)


class PasskeyOptionsOut(BaseModel):
    challenge_id: str
    options: dict[str, Any]


class PasskeyFinishIn(_Request):
    challenge_id: str = Field(max_length=64)
    credential: dict[str, Any]
    label: str | None = Field(default=None, max_length=64)


class ResyncIn(_Request):
    first: str = Field(max_length=16)
    second: str = Field(max_length=16)


class PinIn(_Request):
    pin: str = Field(max_length=16)


def method_factor(method: str) -> Factor:
    return Factor(method)
