"""Citizen-identity verification (公民身份信息核查) behind an interface. Production connects to the
national citizen-identity service; the default simulation answers from the bank's own records of
verified documents, so a name and number that were never verified at a counter do not pass."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from ebank.customers.models import Customer, CustomerDocument
from ebank.customers.service import DOCUMENT_PURPOSE, NAME_PURPOSE

if TYPE_CHECKING:
    from ebank.runtime import Runtime


class IdentityCheck(Protocol):
    def matches(self, rt: Runtime, *, name: str, id_number: str) -> bool:
        """True when the citizen-identity register holds this name with this ID number."""


def identity_check_for(name: str) -> IdentityCheck:
    """The check named by the setting ``identity_check``: ``simulated``, or
    ``package.module:Class`` (built with no arguments; it reads its own configuration)."""
    if name == "simulated":
        return SimulatedIdentityCheck()
    module, _, attribute = name.partition(":")
    check: IdentityCheck = getattr(importlib.import_module(module), attribute)()
    return check


def identity_check(rt: Runtime) -> IdentityCheck:
    """The runtime's citizen-identity check (the simulation where none was configured)."""
    return rt.identity or SimulatedIdentityCheck()


class SimulatedIdentityCheck:
    def matches(self, rt: Runtime, *, name: str, id_number: str) -> bool:
        number_hash = rt.cipher.lookup_hash(id_number, purpose=DOCUMENT_PURPOSE)
        name_hash = rt.cipher.lookup_hash(name, purpose=NAME_PURPOSE)
        with rt.db.read() as session:
            found = session.execute(
                select(Customer.id)
                .join(CustomerDocument, CustomerDocument.customer_id == Customer.id)
                .where(
                    CustomerDocument.number_hash == number_hash,
                    CustomerDocument.doc_type.in_(("resident_id", "temporary_id")),
                    Customer.name_hash == name_hash,
                )
            ).first()
        return found is not None
