"""The feature store in Redis: the engine's memory shared by every process of the bank.

The same state as :class:`ebank.risk.store.MemoryStore`, in Redis structures under one prefix:

- ``a:{kind}:{key}`` — a sorted set per customer, payee, device, IP and customer–payee pair of the
  payments within the longest window (score: time; member: ``time|amount|nonce``);
- ``seen:{kind}:{customer}`` — sets of the payees, devices, IPs and channels a customer has used;
- ``marks:{customer}`` — a hash of the latest security change, new service, new device,
  registration;
- ``l:{c|p}:{key}`` — sorted sets of the labels of a customer's and of a payee's payments.

A snapshot is one pipelined round trip; recording an event another. Keys expire when their
entity has been idle beyond the longest window, so the store keeps only what windows need.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import redis

from ebank.risk.features import (
    LABEL_RETENTION,
    RETENTION,
    Label,
    Observation,
    Snapshot,
    Spend,
    spend_after,
)
from ebank.risk.store import SECURITY_CHANGES, SETTINGS_CHANGES, SPENDING, label_of

SEEN = ("payee", "device", "ip", "channel")
KEEP_SECONDS = int(max(RETENTION, LABEL_RETENTION)) + 86_400


def _nonce() -> str:
    return os.urandom(4).hex()


def _activity(members: Sequence[bytes]) -> list[Spend]:
    spends: list[Spend] = []
    for member in members:
        at, amount, _ = member.decode().split("|")
        spends.append(spend_after(spends, float(at), float(amount)))
    return spends


def _labels(members: Sequence[bytes]) -> list[Label]:
    labels = []
    for member in members:
        at, fraud, amount, ratio, card_frauds, _ = member.decode().split("|")
        labels.append(Label(float(at), int(fraud), float(amount), float(ratio), int(card_frauds)))
    return labels


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str = "ebank:risk:") -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "ebank:risk:") -> RedisStore:
        return cls(redis.Redis.from_url(url), prefix)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _activity_keys(self, event: Observation) -> dict[str, str]:
        keys = {"customer": self._key("a", "c", event.customer)}
        if event.payee is not None:
            keys["payee"] = self._key("a", "p", event.payee)
            keys["customer_payee"] = self._key("a", "cp", event.customer, event.payee)
        if event.device is not None:
            keys["device"] = self._key("a", "d", event.device)
        if event.ip is not None:
            keys["ip"] = self._key("a", "i", event.ip)
        return keys

    def snapshot(self, event: Observation) -> Snapshot:
        keys = self._activity_keys(event)
        since = event.at - RETENTION
        pipe = self.redis.pipeline(transaction=False)
        for key in keys.values():
            pipe.zrangebyscore(key, since, "+inf")
        for name in SEEN:
            pipe.sismember(self._key("seen", name, event.customer), getattr(event, name) or "")
        pipe.hgetall(self._key("marks", event.customer))
        label_since = event.at - LABEL_RETENTION
        pipe.zrangebyscore(self._key("l", "c", event.customer), label_since, "+inf")
        if event.payee is not None:
            pipe.zrangebyscore(self._key("l", "p", event.payee), label_since, "+inf")
            pipe.sismember(self._key("blocked"), event.payee)
        replies = pipe.execute()

        snapshot = Snapshot()
        for name, members in zip(keys, replies, strict=False):
            setattr(snapshot, name, _activity(members))
        rest = replies[len(keys) :]
        for name, seen in zip(SEEN, rest, strict=False):
            setattr(snapshot, f"seen_{name}", bool(seen) and getattr(event, name) is not None)
        marks = {key.decode(): float(value) for key, value in rest[len(SEEN)].items()}
        snapshot.last_security_change = marks.get("security_change")
        snapshot.last_settings_change = marks.get("settings_change")
        snapshot.last_new_service = marks.get("new_service")
        snapshot.last_new_device = marks.get("new_device")
        snapshot.registered = marks.get("registration")
        snapshot.customer_labels = _labels(rest[len(SEEN) + 1])
        if event.payee is not None:
            snapshot.payee_labels = _labels(rest[len(SEEN) + 2])
            snapshot.payee_blocked = bool(rest[len(SEEN) + 3])
        return snapshot

    def record(self, event: Observation) -> None:
        # A payment confirmed again in another process is recorded once.
        if event.id and not self.redis.set(self._key("r", event.id), 1, nx=True, ex=KEEP_SECONDS):
            return
        pipe = self.redis.pipeline(transaction=True)
        marks_key = self._key("marks", event.customer)
        changed = {
            mark
            for mark, applies in (
                ("security_change", event.kind in SECURITY_CHANGES),
                ("settings_change", event.kind in SETTINGS_CHANGES),
                ("new_service", event.kind == "new_service"),
                ("new_device", event.kind == "new_device"),
                ("registration", event.kind == "registration"),
            )
            if applies
        }
        if changed:
            pipe.hset(marks_key, mapping=dict.fromkeys(changed, repr(event.at)))
            pipe.expire(marks_key, KEEP_SECONDS)
        for name in SEEN:
            value = getattr(event, name)
            if value is not None and (name != "payee" or event.kind in SPENDING):
                seen_key = self._key("seen", name, event.customer)
                pipe.sadd(seen_key, value)
        if event.kind in SPENDING:
            member = f"{event.at!r}|{event.amount!r}|{_nonce()}"
            for key in self._activity_keys(event).values():
                pipe.zadd(key, {member: event.at})
                pipe.zremrangebyscore(key, "-inf", f"({event.at - RETENTION!r}")
                pipe.expire(key, KEEP_SECONDS)
        pipe.execute()

    def label(
        self, customer: str, payee: str | None, at: float, fraud: bool, amount: float | None = None
    ) -> None:
        own_key = self._key("l", "c", customer)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrangebyscore(self._key("a", "c", customer), at - RETENTION, "+inf")
        pipe.zrangebyscore(own_key, at - LABEL_RETENTION, "+inf")
        activity, labels = pipe.execute()
        label = label_of(_activity(activity), _labels(labels), at, fraud, amount)
        member = (
            f"{label.at!r}|{label.fraud}|{label.amount!r}|{label.ratio!r}|"
            f"{label.card_frauds}|{_nonce()}"
        )
        pipe = self.redis.pipeline(transaction=True)
        for key in [own_key] + ([self._key("l", "p", payee)] if payee is not None else []):
            pipe.zadd(key, {member: at})
            pipe.zremrangebyscore(key, "-inf", f"({at - LABEL_RETENTION!r}")
            pipe.expire(key, KEEP_SECONDS)
        pipe.execute()

    def block_payee(self, payee: str, blocked: bool = True) -> None:
        """Payments to ``payee`` show ``payee_blocked`` (or no longer do), in every process."""
        if blocked:
            self.redis.sadd(self._key("blocked"), payee)
        else:
            self.redis.srem(self._key("blocked"), payee)
