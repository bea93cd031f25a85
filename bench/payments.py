"""Payments benchmark: the app under uvicorn on PostgreSQL, driven over HTTP.

Sets up customers with online banking and a USB key each (not measured), starts the app itself
(``ebank serve``), logs every customer in (password + USB-key signature), then concurrent
customers make payments to each other through the public API, challenge included: draft
(``POST /me/payments``, which returns the USB-key challenge) → sign the payload → authorise
(``POST /me/payments/{id}/authorize``). A payment counts when it comes back ``executed``.

    python bench/payments.py [--customers N] [--payments N] [--clients N] [--workers N]

The bank's policy here grants no exemptions from the second factor (a copy of ``cn`` without
them), so every payment is challenged. The last line printed is one JSON object:
``payments_per_s``, ``p50_ms``, ``p99_ms``, ``errors``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from ebank.auth import service as auth
from ebank.auth import tools
from ebank.channels import service as channels
from ebank.common.actor import Actor
from ebank.common.validators import DocumentType, resident_id_check_char
from ebank.config import PROJECT_ROOT
from ebank.customers.service import DocumentInput, KycInput, create_individual
from ebank.ledger.accounts import Product
from ebank.ledger.posting import TransferRequest
from ebank.ledger.service import (
    ensure_internal_accounts,
    internal_account_id,
    open_account,
    reveal_account_number,
)
from ebank.migrate import upgrade
from ebank.runtime import Runtime, build_runtime
from ebank.sim.usbkey import SoftUsbKey
from ledger import bench_database, bench_settings, drop_bench_schema  # bench/ is on the path

LOGIN_PASSWORD = "bench-login-2026"  # noqa: S105  # a benchmark's throwaway customers
TRANSACTION_PASSWORD = "bench-pay-2026"  # noqa: S105
TELLER = Actor("staff", "bench", "teller")


class Customer:
    def __init__(self, n: int, customer_id: int, account_id: int, card: str) -> None:
        self.n = n
        self.customer_id = customer_id
        self.account_id = account_id
        self.card = card
        self.name = f"压测客户{n}"
        self.login_name = f"bench{n}"
        self.key = SoftUsbKey()
        self.device = f"bench-device-{n}"
        self.token = ""
        self.paid = 0


def _policy_dir(workdir: Path) -> Path:
    """``cn`` without exemptions: every payment meets its challenge."""
    document = yaml.safe_load((PROJECT_ROOT / "policies" / "cn.yaml").read_text(encoding="utf-8"))
    document["profile"] = "bench"
    document["channels"]["exemptions"] = {}
    target = workdir / "policies"
    target.mkdir()
    (target / "bench.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    shutil.copytree(PROJECT_ROOT / "policies" / "rules", target / "rules")  # the risk engine's
    return target


def _resident_id(n: int) -> str:
    body = f"11010519800101{n % 1000:03d}"
    return body + resident_id_check_char(body)


def _set_up(rt: Runtime, count: int) -> list[Customer]:
    ensure_internal_accounts(rt)
    shared = auth.prepare_credentials(
        rt,
        login_name="bench0",
        login_password=LOGIN_PASSWORD,
        transaction_password=TRANSACTION_PASSWORD,
    )
    equity = internal_account_id(rt, Product.EQUITY)
    customers = []
    for n in range(count):
        customer_id = create_individual(
            rt,
            TELLER,
            name=f"压测客户{n}",
            document=DocumentInput(DocumentType.RESIDENT_ID, _resident_id(n)),
            mobile=f"135{n:08d}",
            kyc=KycInput(occupation="tester"),
        ).id
        account_id = open_account(
            rt, TELLER, customer_id=customer_id, product=Product.PERSONAL_I
        ).id
        [funded] = rt.posting.submit(
            [TransferRequest(f"fund-{account_id}", equity, account_id, 10_000_000, "CNY")]
        )
        assert funded.ok
        credentials = auth.NewCredentials(
            f"bench{n}", shared.login_password_hash, shared.transaction_password_hash
        )
        channels.register_at_counter(
            rt,
            TELLER,
            customer_id,
            channel="online",
            account_ids=[account_id],
            credentials=credentials,
        )
        customer = Customer(n, customer_id, account_id, reveal_account_number(rt, account_id))
        enrolled = tools.enrol_usbkey(
            rt, TELLER, customer_id, public_key_pem=customer.key.public_key_pem().decode()
        )
        customer.key.certificate_pem = enrolled.certificate_pem.encode()
        customers.append(customer)
    return customers


def _start_server(
    rt: Runtime, policy_dir: Path, port: int, workers: int
) -> subprocess.Popen[bytes]:
    settings = rt.settings
    env = {
        **os.environ,
        "EBANK_DATABASE_URL": settings.database_url,
        "EBANK_DATA_KEYS": settings.data_keys or "",
        "EBANK_LOOKUP_KEY": settings.lookup_key or "",
        "EBANK_POLICY_DIR": str(policy_dir),
        "EBANK_POLICY_PROFILE": "bench",
        "EBANK_VAR_DIR": str(settings.var_dir),
        "EBANK_BACKGROUND_INTERVAL_S": "0",
    }
    command = [sys.executable, "-m", "ebank.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--host", "127.0.0.1"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(
        "the app did not start: " + (server.stderr.read().decode() if server.stderr else "")
    )


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux ``/proc``; 0 where unreadable)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _process_tree(root: int) -> list[int]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return found


def _database_processes() -> list[int]:
    """The local PostgreSQL server's processes (the benchmark's database is on this machine)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class CpuMeter:
    """CPU spent by the app, the database and the benchmark's own clients between two readings:
    a figure that, unlike throughput, hardly moves with what else the host is running."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server
        self.started = self._read()

    def _read(self) -> dict[str, float]:
        own = os.times()
        return {
            "app": _cpu_seconds(_process_tree(self.server.pid)),
            "database": _cpu_seconds(_database_processes()),
            "clients": own.user + own.system,
        }

    def ms_per(self, count: int) -> dict[str, float]:
        now = self._read()
        return {
            part: round((now[part] - self.started[part]) * 1000 / max(count, 1), 2) for part in now
        }


def _analyze(rt: Runtime) -> None:
    """Table statistics, as a bank's database has them: the schema was created empty moments
    ago, and plans made for empty tables scan them whole once they have grown."""
    with rt.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


class Client:
    """One keep-alive HTTP/1.1 connection, JSON in and out. Written on a bare socket rather than
    ``http.client``, whose header parsing (the email package) cost the load generator, which
    shares the app's two cores, about as much CPU as the rest of its work per payment."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.received = b""

    def call(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        payload = json.dumps(body).encode()
        lines = [f"{method} /api/v1{path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        while b"\r\n\r\n" not in self.received:
            self._receive()
        head, _, self.received = self.received.partition(b"\r\n\r\n")
        status_line, *fields = head.split(b"\r\n")
        length = 0
        for line in fields:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.received) < length:
            self._receive()
        content, self.received = self.received[:length], self.received[length:]
        return int(status_line.split()[1]), json.loads(content or b"null")

    def _receive(self) -> None:
        chunk = self.socket.recv(65536)
        if not chunk:
            raise ConnectionError("the app closed the connection")
        self.received += chunk


def _headers(customer: Customer) -> dict[str, str]:
    headers = {"X-Device-Id": customer.device, "Accept-Language": "en"}
    if customer.token:
        headers["Authorization"] = f"Bearer {customer.token}"
    return headers


def _sign(customer: Customer, challenge: dict[str, Any]) -> str:
    return base64.b64encode(customer.key.sign(challenge["sign_payload"].encode())).decode()


def _log_in(client: Client, customer: Customer) -> None:
    status, challenge = client.call(
        "POST",
        "/customer/login/challenge",
        {"login_name": customer.login_name, "method": "usbkey"},
        _headers(customer),
    )
    assert status == 200, challenge
    status, session = client.call(
        "POST",
        "/customer/login",
        {
            "login_name": customer.login_name,
            "password": LOGIN_PASSWORD,
            "method": "usbkey",
            "challenge_id": challenge["id"],
            "signature": _sign(customer, challenge),
        },
        _headers(customer),
    )
    assert status == 200, session
    customer.token = session["token"]


def _pay(client: Client, payer: Customer, payee: Customer) -> bool:
    payer.paid += 1
    status, drafted = client.call(
        "POST",
        "/me/payments",
        {
            "request_id": f"bench-{uuid.uuid4().hex}",
            "from_account_id": payer.account_id,
            "amount": 100 + payer.paid,  # never the same amount twice (no repeat warning)
            "payee_account": payee.card,
            "payee_name": payee.name,
            "method": "usbkey",
        },
        _headers(payer),
    )
    if status != 201 or drafted.get("challenge") is None:
        return False
    status, done = client.call(
        "POST",
        f"/me/payments/{drafted['id']}/authorize",
        {
            "challenge_id": drafted["challenge"]["id"],
            "signature": _sign(payer, drafted["challenge"]),
        },
        _headers(payer),
    )
    return status == 200 and done.get("status") == "executed"


def _drive(
    port: int, customers: list[Customer], total: int, clients: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
    groups = [customers[i::clients] for i in range(clients)]

    def run(own_customers: list[Customer]) -> None:
        nonlocal errors
        client = Client(port)
        mine: list[float] = []
        bad = 0
        for turn, _ in enumerate(iter(lambda: next(counter, None), None)):
            payer = own_customers[turn % len(own_customers)]
            payee = customers[(payer.n + 1) % len(customers)]
            started = time.perf_counter()
            try:
                ok = _pay(client, payer, payee)
            except (OSError, ValueError, IndexError):  # dropped, or not HTTP and JSON
                ok = False
                client.socket.close()
                client = Client(port)
            mine.append(time.perf_counter() - started)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=run, args=(group,)) for group in groups if group]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=128)
    parser.add_argument("--payments", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=16)  # p99 ≤ 100 ms on 2 cores
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="uvicorn worker processes",
    )
    parser.add_argument(
        "--warm-up", type=int, default=2000, help="payments made (and analysed) before measuring"
    )
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ebank-bench-payments-"))
    url, schema = bench_database("postgres", workdir)
    rt = build_runtime(bench_settings(url, workdir / "var"))
    server = None
    try:
        upgrade(rt.db)
        print(f"setting up {args.customers} customers…", file=sys.stderr)
        customers = _set_up(rt, args.customers)
        server = _start_server(rt, _policy_dir(workdir), args.port, args.workers)
        login_client = Client(args.port)
        for customer in customers:
            _log_in(login_client, customer)
        _drive(args.port, customers, args.warm_up, args.clients)  # warm-up
        _analyze(rt)
        print(f"{args.payments} payments from {args.clients} clients…", file=sys.stderr)
        meter = CpuMeter(server)
        seconds, latencies, errors = _drive(args.port, customers, args.payments, args.clients)
        cpu_ms = meter.ms_per(len(latencies))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        rt.close()
        if schema:
            drop_bench_schema(schema)
    cuts = statistics.quantiles(latencies, n=100)
    figures = {
        "benchmark": "payments",
        "backend": "postgresql",
        "database_via": "unix socket" if "host=/" in url else "tcp",
        "workers": args.workers,
        "clients": args.clients,
        "customers": args.customers,
        "payments": len(latencies),
        "seconds": round(seconds, 2),
        "payments_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p90_ms": round(cuts[89] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "errors": errors,
        "cpu_ms_per_payment": cpu_ms,
    }
    print(json.dumps(figures))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
