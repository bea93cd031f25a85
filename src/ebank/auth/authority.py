"""The bank's certificate authority for USB keys: created on first use, its key kept encrypted in
the database so every process of the bank signs and verifies with the same CA."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ebank.auth import pki
from ebank.auth.models import BankAuthority
from ebank.runtime import Runtime

KEY_PURPOSE = "bank.ca_key"
_cache: dict[str, pki.BankCA] = {}
_lock = threading.Lock()


def bank_ca(rt: Runtime) -> pki.BankCA:
    """The active CA, created the first time any process needs it."""
    url = rt.settings.database_url
    with _lock:
        if url in _cache:
            return _cache[url]
    ca = _load(rt) or _create(rt)
    with _lock:
        _cache[url] = ca
    return ca


def _load(rt: Runtime) -> pki.BankCA | None:
    with rt.db.read() as session:
        row = _active(session)
        if row is None:
            return None
        key_pem = rt.cipher.decrypt(row.key_enc, purpose=KEY_PURPOSE).encode()
        return pki.load_ca(key_pem, row.certificate_pem.encode())


def _active(session: Session) -> BankAuthority | None:
    return session.execute(
        select(BankAuthority).where(BankAuthority.active.is_(True)).order_by(BankAuthority.id)
    ).scalar_one_or_none()


def _create(rt: Runtime) -> pki.BankCA:
    ca = pki.create_ca(f"{rt.policy.ledger.bank_code} Customer CA", rt.clock.now())
    row = BankAuthority(
        id=1,
        key_enc=rt.cipher.encrypt(pki.ca_private_key_pem(ca).decode(), purpose=KEY_PURPOSE),
        certificate_pem=pki.ca_certificate_pem(ca).decode(),
        created_at=rt.clock.now(),
        active=True,
    )
    try:
        with rt.db.write() as session:
            session.add(row)
    except IntegrityError:  # another process made it first: use theirs
        loaded = _load(rt)
        assert loaded is not None
        return loaded
    return ca
