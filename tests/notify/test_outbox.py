"""The notification outbox: a notification is written in the transaction of the change it reports,
encrypted, to the customer's reserved phone; the courier delivers it after the commit (once), a
one-time code leaves no copy behind, a gateway failure is retried until it is given up, and the
inbox shows each customer their own notifications in the reader's language."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from ebank.common.clock import ManualClock
from ebank.common.errors import NotFound
from ebank.common.i18n import current_locale
from ebank.notify import service as notify
from ebank.notify.messages import CHANGE_PASSWORD, MESSAGES
from ebank.notify.models import Notification
from ebank.runtime import Runtime, build_runtime
from tests.conftest import START, make_settings
from tests.factories import individual, mobile

PAYMENT: dict[str, Any] = {
    "amount": 123_456,
    "currency": "CNY",
    "payee": "ACME Trading",
    "payee_account": "6222****1234",
    "from_account": "6217****0001",
}
PAYMENT_ZH = (
    "您已从账户 6217****0001 向ACME Trading（账号 6222****1234）付款 ¥1,234.56。"
    "如非本人操作，请立即致电本行。"
)
PAYMENT_EN = (
    "You paid CN¥1,234.56 from account 6217****0001 to ACME Trading (account 6222****1234). "
    "If this was not you, call the bank at once."
)
NEVER_ASK_CODE_ZH = "本行绝不会向您索要验证码，请勿告知任何人，包括银行工作人员。"
LOCKED_ZH = "因错误次数过多，您的电子银行已被锁定，请到网点办理解锁。" + NEVER_ASK_CODE_ZH
DEADLINE_S = 10.0
POLL_S = 0.02


@contextmanager
def reading_in(locale: str) -> Iterator[None]:
    """The language of the request (set by the web edge from Accept-Language)."""
    token = current_locale.set(locale)
    try:
        yield
    finally:
        current_locale.reset(token)


def queue(rt: Runtime, customer_id: int, kind: str, **params: Any) -> int:
    """Queue one notification in a transaction of its own, committed on return."""
    with rt.db.write() as session:
        return notify.queue(session, rt, customer_id, kind, **params)


def stored(rt: Runtime, notification_id: int) -> Notification:
    with rt.db.read() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        return row


def stored_params(rt: Runtime, notification_id: int) -> Any:
    blob = stored(rt, notification_id).params_enc
    return json.loads(rt.cipher.decrypt(blob, purpose=notify.PARAMS_PURPOSE))


def notification_count(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(select(func.count()).select_from(Notification)).scalar_one()


def outbox(rt: Runtime) -> list[dict[str, Any]]:
    """The SMS the file gateway has been handed so far (without asking the courier for more)."""
    path = Path(rt.settings.var_dir) / "sms-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def wait_for_outbox(rt: Runtime, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        lines = outbox(rt)
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"{len(lines)} SMS of {count} delivered after {DEADLINE_S} s")
        time.sleep(POLL_S)


# --- queue and inbox ----------------------------------------------------------------------------


def test_queue_stores_a_pending_encrypted_notification_shown_in_the_readers_language(
    rt: Runtime,
) -> None:
    customer = individual(rt, 1)
    other = individual(rt, 2)
    with reading_in("en"), rt.db.write() as session:
        notification_id = notify.queue(session, rt, customer, "payment_executed", **PAYMENT)

    row = stored(rt, notification_id)
    assert row.customer_id == customer
    assert row.kind == "payment_executed"
    assert (row.status, row.attempts, row.sent_at, row.read_at) == ("pending", 0, None, None)
    assert row.locale == "en"  # the SMS goes out in the language of the request that queued it
    assert row.recipient_masked == "134****0001"
    assert row.recipient_enc is not None
    assert mobile(1).encode() not in row.recipient_enc
    for plaintext in ("ACME Trading", "6222****1234", "6217****0001", "123456"):
        assert plaintext.encode() not in row.params_enc
    assert stored_params(rt, notification_id) == PAYMENT  # encrypted, not lost

    with reading_in("zh-CN"):
        [item] = notify.inbox(rt, customer)
    assert item.id == notification_id
    assert item.kind == "payment_executed"
    assert item.text == PAYMENT_ZH
    assert item.sent_to == "134****0001"
    assert (item.delivered, item.read) == (False, False)
    assert item.created_at == START
    with reading_in("en"):
        assert [i.text for i in notify.inbox(rt, customer)] == [PAYMENT_EN]
    assert notify.inbox(rt, other) == []


def test_queue_for_an_unknown_customer_raises_not_found_and_writes_nothing(rt: Runtime) -> None:
    customer = individual(rt, 1)
    with rt.db.write() as session, pytest.raises(NotFound) as raised:
        notify.queue(session, rt, customer + 1000, "locked")
    # The transaction went on and committed: the refused notification left no row behind.
    assert raised.value.code == "customer_not_found"
    assert raised.value.field == "customer_id"
    assert notification_count(rt) == 0
    assert rt.courier.flush() == 0
    assert outbox(rt) == []


# --- delivery through the courier ---------------------------------------------------------------


def test_waking_the_courier_after_the_commit_delivers_to_the_file_gateway(rt: Runtime) -> None:
    customer = individual(rt, 1)
    with reading_in("en"):
        notification_id = queue(rt, customer, "security_change", change_msgid=CHANGE_PASSWORD)
    rt.courier.wake()

    lines = wait_for_outbox(rt, 1)
    assert lines == [
        {
            "to": mobile(1),
            "text": "Security change on your e-banking: your password was changed. "
            "If this was not you, call the bank at once.",
            "at": START.isoformat(),
        }
    ]
    # flush waits for the courier's round to end; then nothing is left, and nothing went twice.
    assert rt.courier.flush() == 0
    assert outbox(rt) == lines
    row = stored(rt, notification_id)
    assert (row.status, row.sent_at, row.attempts) == ("sent", START, 1)
    with reading_in("zh-CN"):  # the reader's language, not the SMS's
        [item] = notify.inbox(rt, customer)
    assert item.text == "您的电子银行安全设置有变更：密码已修改。如非本人操作，请立即致电本行。"
    assert item.delivered is True


def test_flush_delivers_everything_pending_exactly_once(rt: Runtime) -> None:
    first = individual(rt, 1)
    second = individual(rt, 2)
    ids = [
        queue(rt, first, "locked"),
        queue(rt, second, "payment_executed", **PAYMENT),
        queue(rt, first, "new_device", device="Pixel 9"),
    ]

    assert rt.courier.flush() == 3
    lines = outbox(rt)
    assert lines == [
        {"to": mobile(1), "text": LOCKED_ZH, "at": START.isoformat()},
        {"to": mobile(2), "text": PAYMENT_ZH, "at": START.isoformat()},
        {
            "to": mobile(1),
            "text": "您的电子银行在新设备上登录：Pixel 9。如非本人操作，请立即致电本行。",
            "at": START.isoformat(),
        },
    ]
    assert [stored(rt, i).status for i in ids] == ["sent", "sent", "sent"]

    assert rt.courier.flush() == 0
    assert outbox(rt) == lines

    later = queue(rt, second, "locked")
    assert rt.courier.flush() == 1
    assert outbox(rt) == [*lines, {"to": mobile(2), "text": LOCKED_ZH, "at": START.isoformat()}]
    assert stored(rt, later).status == "sent"


def test_send_now_delivers_the_given_notification_before_returning(rt: Runtime) -> None:
    customer = individual(rt, 1)
    other = queue(rt, customer, "locked")
    code = queue(rt, customer, "otp_login", code="480213", minutes=5)

    assert rt.courier.send_now([code]) == 1
    [line] = outbox(rt)
    assert line["to"] == mobile(1)
    assert line["text"] == "您的电子银行登录验证码为 480213，5 分钟内有效。" + NEVER_ASK_CODE_ZH
    assert stored(rt, code).status == "sent"
    assert stored(rt, other).status == "pending"  # only what was asked for


def test_one_time_code_parameters_are_wiped_after_delivery_and_others_kept(rt: Runtime) -> None:
    assert MESSAGES["otp_payment"].sensitive
    assert not MESSAGES["payment_executed"].sensitive
    customer = individual(rt, 1)
    code_params = {
        "code": "480213",
        "amount": 123_456,
        "currency": "CNY",
        "payee": "ACME Trading",
        "payee_account": "6222****1234",
        "bank": "Test Bank",
        "minutes": 5,
    }
    code = queue(rt, customer, "otp_payment", **code_params)
    notice = queue(rt, customer, "payment_executed", **PAYMENT)
    assert stored_params(rt, code) == code_params  # kept until it is sent

    assert rt.courier.flush() == 2
    assert "480213" in outbox(rt)[0]["text"]
    assert stored_params(rt, code) == {}
    assert stored_params(rt, notice) == PAYMENT
    with reading_in("zh-CN"):
        [item] = notify.inbox(rt, customer)  # a one-time code never shows in the inbox
    assert (item.id, item.text, item.delivered) == (notice, PAYMENT_ZH, True)


# --- the HTTP gateway ---------------------------------------------------------------------------


@dataclass
class GatewayStub:
    """What a real SMS gateway received, and the status it answers with."""

    url: str = ""
    status: int = 202
    received: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)  # a redirect followed, the message left behind
    hold: threading.Event | None = None  # when set: answer only once it is set
    arrived: threading.Event = field(default_factory=threading.Event)
    events: list[str] = field(default_factory=list)


class StubServer(HTTPServer):
    stub: GatewayStub


class StubHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        stub = cast(StubServer, self.server).stub
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stub.received.append(json.loads(body))
        stub.content_types.append(self.headers.get("Content-Type"))
        stub.arrived.set()
        if stub.hold is not None:
            stub.hold.wait(DEADLINE_S)
        stub.events.append("answered")
        self.send_response(stub.status)
        if 300 <= stub.status < 400:
            self.send_header("Location", "/moved")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        cast(StubServer, self.server).stub.gets.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def gateway() -> Iterator[GatewayStub]:
    server = StubServer(("127.0.0.1", 0), StubHandler)
    server.stub = GatewayStub(url=f"http://127.0.0.1:{server.server_port}/sms")
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_S},  # so that shutdown() need not wait half a second
        name="sms-gateway-stub",
        daemon=True,
    )
    thread.start()
    yield server.stub
    server.shutdown()
    server.server_close()
    thread.join(DEADLINE_S)


@pytest.fixture
def http_rt(
    database_url: str, tmp_path: Path, clock: ManualClock, gateway: GatewayStub
) -> Iterator[Runtime]:
    """A runtime whose SMS go to ``gateway`` over HTTP."""
    runtime = build_runtime(
        make_settings(database_url, tmp_path, sms_gateway=gateway.url), clock=clock
    )
    yield runtime
    runtime.close()


def test_http_gateway_taking_the_message_marks_it_sent(
    http_rt: Runtime, gateway: GatewayStub
) -> None:
    customer = individual(http_rt, 1)
    notification_id = queue(http_rt, customer, "payment_executed", **PAYMENT)

    assert http_rt.courier.flush() == 1
    assert gateway.received == [{"to": mobile(1), "text": PAYMENT_ZH, "at": START.isoformat()}]
    assert gateway.content_types == ["application/json"]
    row = stored(http_rt, notification_id)
    assert (row.status, row.sent_at, row.attempts) == ("sent", START, 1)
    assert not (http_rt.settings.var_dir / "sms-outbox.jsonl").exists()


def test_http_gateway_failure_is_retried_then_given_up(
    http_rt: Runtime, gateway: GatewayStub
) -> None:
    gateway.status = 500
    customer = individual(http_rt, 1)
    notification_id = queue(http_rt, customer, "locked")

    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        assert http_rt.courier.flush() == 0
        row = stored(http_rt, notification_id)
        assert row.attempts == attempt
        assert row.status == ("failed" if attempt == notify.MAX_ATTEMPTS else "pending")
        assert row.sent_at is None
    assert len(gateway.received) == notify.MAX_ATTEMPTS
    assert {message["to"] for message in gateway.received} == {mobile(1)}

    gateway.status = 202  # the gateway is back, but a message given up on is not sent again
    assert http_rt.courier.flush() == 0
    assert len(gateway.received) == notify.MAX_ATTEMPTS
    assert stored(http_rt, notification_id).status == "failed"


def test_http_gateway_failure_then_recovery_sends_the_message_once(
    http_rt: Runtime, gateway: GatewayStub
) -> None:
    gateway.status = 500
    customer = individual(http_rt, 1)
    notification_id = queue(http_rt, customer, "locked")
    assert http_rt.courier.flush() == 0
    assert stored(http_rt, notification_id).status == "pending"

    gateway.status = 200
    assert http_rt.courier.flush() == 1
    assert http_rt.courier.flush() == 0
    row = stored(http_rt, notification_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(gateway.received) == 2  # the failed try and the one the gateway took


def test_the_gateway_is_called_with_no_transaction_open(
    http_rt: Runtime, gateway: GatewayStub
) -> None:
    """A slow gateway must not hold the database (on SQLite: its one writer) while it answers."""
    customer = individual(http_rt, 1)
    queue(http_rt, customer, "locked")
    gateway.hold = threading.Event()
    sent: list[int] = []
    sender = threading.Thread(target=lambda: sent.append(http_rt.courier.flush()))
    sender.start()
    try:
        assert gateway.arrived.wait(DEADLINE_S)
        queue(
            http_rt, customer, "new_device", device="phone"
        )  # another writer, while the gateway holds on
        gateway.events.append("written")
    finally:
        gateway.hold.set()
        sender.join(DEADLINE_S)

    assert gateway.events == ["written", "answered"]
    assert sent == [1]


def test_a_message_claimed_by_a_sender_that_died_goes_out_once_the_claim_runs_out(
    http_rt: Runtime, gateway: GatewayStub, clock: ManualClock
) -> None:
    customer = individual(http_rt, 1)
    notification_id = queue(http_rt, customer, "locked")
    with http_rt.db.write() as session:  # claimed, then its sender's process was killed
        session.get_one(Notification, notification_id).claimed_until = clock.now() + timedelta(
            seconds=90
        )

    assert http_rt.courier.flush() == 0
    assert gateway.received == []
    clock.advance(timedelta(seconds=90))
    assert http_rt.courier.flush() == 1
    row = stored(http_rt, notification_id)
    assert (row.status, row.attempts, row.claimed_until) == ("sent", 1, None)


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_http_gateway_redirect_is_a_failure_not_a_delivery(
    http_rt: Runtime, gateway: GatewayStub, status: int
) -> None:
    """Followed, a redirect would turn the POST into a body-less GET whose 200 looks like a send."""
    gateway.status = status
    customer = individual(http_rt, 1)
    notification_id = queue(http_rt, customer, "locked")

    assert http_rt.courier.flush() == 0
    assert gateway.gets == []
    row = stored(http_rt, notification_id)
    assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)


# --- reading --------------------------------------------------------------------------------------


def test_mark_read_of_another_customers_notification_is_not_found_and_changes_nothing(
    rt: Runtime,
) -> None:
    owner = individual(rt, 1)
    stranger = individual(rt, 2)
    notification_id = queue(rt, owner, "locked")

    with pytest.raises(NotFound) as raised:
        notify.mark_read(rt, stranger, notification_id)
    assert raised.value.code == "notification_not_found"
    assert stored(rt, notification_id).read_at is None
    assert [item.read for item in notify.inbox(rt, owner)] == [False]

    notify.mark_read(rt, owner, notification_id)  # the owner can
    assert stored(rt, notification_id).read_at == START
    assert [item.read for item in notify.inbox(rt, owner)] == [True]


def test_a_message_that_cannot_be_sent_holds_up_no_other_and_nothing_goes_twice(
    rt: Runtime,
) -> None:
    first = individual(rt, 1)
    broken = queue(rt, first, "new_device", model="Pixel 9")  # a parameter the text does not have
    fine = queue(rt, first, "locked")

    assert rt.courier.flush() == 1
    assert [line["text"] for line in outbox(rt)] == [LOCKED_ZH]
    assert stored(rt, fine).status == "sent"
    assert (stored(rt, broken).status, stored(rt, broken).attempts) == ("pending", 1)

    assert rt.courier.flush() == 0  # the next round tries the broken one again, alone
    assert [line["text"] for line in outbox(rt)] == [LOCKED_ZH]
    assert stored(rt, broken).attempts == 2
