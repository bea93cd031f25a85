"""Request bodies of the risk API (responses are the service's views)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ebank.web.fields import Reason


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteIn(_Request):
    note: Reason


class LabelIn(_Request):
    label: Literal["fraud", "not_fraud"]


class BlockPayeeIn(_Request):
    reason: Reason


class SuspendChannelIn(_Request):
    channel: Literal["online", "mobile", "phone", "tv"]
    reason: Reason


class RuleSetIn(_Request):
    body: str = Field(min_length=1, max_length=200_000)  # YAML or JSON
    note: Reason


class PromoteIn(_Request):
    status: Literal["shadow", "live", "retired"]


class TrainIn(_Request):
    train_from: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))
    train_to: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))
