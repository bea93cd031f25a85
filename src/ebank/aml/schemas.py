"""Request bodies of the AML API (responses are the service's views)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from ebank.web.fields import LongText, Narrative, NoteText

Day = date


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteIn(_Request):
    body: NoteText


class DecisionIn(_Request):
    reason: LongText


class ReportEditIn(_Request):
    narrative: Narrative
    measures: LongText
    version: int = Field(ge=1, le=2**31 - 1)


class VersionIn(_Request):
    version: int = Field(ge=1, le=2**31 - 1)


class ScanIn(_Request):
    first_day: Day | None = Field(
        default=None, alias="from", ge=date(2000, 1, 1), le=date(2999, 12, 31)
    )
    last_day: Day | None = Field(
        default=None, alias="to", ge=date(2000, 1, 1), le=date(2999, 12, 31)
    )
