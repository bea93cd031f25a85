from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ebank.staff.permissions import Role
from ebank.staff.service import StaffView
from ebank.web.fields import Name


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Request):
    username: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=128)


class SessionOut(BaseModel):
    token: str
    csrf_token: str
    expires_at: datetime
    staff: StaffView


class StaffCreate(_Request):
    username: str = Field(min_length=3, max_length=32)
    display_name: Name
    role: Role
    password: str = Field(min_length=1, max_length=128)


class StaffUpdate(_Request):
    role: Role | None = None
    active: bool | None = None
    unlock: bool = False
    password: str | None = Field(default=None, min_length=1, max_length=128)
