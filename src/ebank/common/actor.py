"""Who does something: every state change names its actor in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["staff", "customer", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    role: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor(kind="system", id="system", role=None)
