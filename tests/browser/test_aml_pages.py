"""The AML officer's pages in a real browser: a shell company's day of "advertising fees" passed
straight on as "salary", a scan from the case page, the case with its reasons and fund-flow graph,
e-banking suspended, a suspicious transaction report drafted, edited, refused to its own preparer,
reviewed by a colleague, downloaded and filed; a large-value report recorded as filed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect

from ebank.aml import service as aml
from ebank.auth import service as auth
from ebank.channels.service import register_at_counter
from ebank.common.actor import SYSTEM
from ebank.common.validators import DocumentType
from ebank.customers.service import DocumentInput, KycInput, create_company
from ebank.ledger.accounts import Product
from ebank.ledger.posting import TransferRequest
from ebank.ledger.service import create_transfers
from ebank.sim.demo import DEMO_STAFF_PASSWORD
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff
from tests.browser.conftest import LiveServer, Visit, backend_id
from tests.factories import funded_account, individual, mobile, uscc

pytestmark = pytest.mark.browser
YUAN = 100
SHELL_NAME = "某某票务印刷有限公司"


@dataclass
class Shell:
    customer_id: int
    people: int


def _shell_company_day(server: LiveServer) -> Shell:
    """The company of scenario S1 and one day of its traffic, posted through the ledger."""
    rt = server.rt
    shell = create_company(
        rt,
        SYSTEM,
        name=SHELL_NAME,
        document=DocumentInput(DocumentType.USCC, uscc(91)),
        mobile=mobile(70_091),
        legal_representative="王某",
        kyc=KycInput(business_scope="票务代理、印刷、场地租赁", registered_capital=100_000 * YUAN),
    ).id
    account = funded_account(rt, shell, 0, Product.CORPORATE_BASIC)
    credentials = auth.prepare_credentials(
        rt,
        login_name="shellco",
        login_password="Shell-login-2026",
        transaction_password="Shell-pay-2026",
    )
    register_at_counter(
        rt, SYSTEM, shell, channel="online", account_ids=[account], credentials=credentials
    )
    advertiser = create_company(
        rt,
        SYSTEM,
        name="某某广告传媒有限公司",
        document=DocumentInput(DocumentType.USCC, uscc(92)),
        mobile=mobile(70_092),
        legal_representative="赵某",
        kyc=KycInput(business_scope="广告设计、制作、发布", registered_capital=50_000_000 * YUAN),
    ).id
    source = funded_account(rt, advertiser, 10_000_000 * YUAN, Product.CORPORATE_BASIC)
    people = [funded_account(rt, individual(rt, 9100 + n), 0) for n in range(4)]
    requests = [
        TransferRequest(
            "web-s1-in",
            source,
            account,
            4_400_000 * YUAN,
            "CNY",
            purpose="广告费",
            channel="online",
        ),
        *(
            TransferRequest(
                f"web-s1-out-{n}",
                account,
                person,
                1_100_000 * YUAN,
                "CNY",
                purpose="工资及养老金",
                channel="online",
            )
            for n, person in enumerate(people)
        ),
    ]
    assert all(r.ok for r in create_transfers(rt, SYSTEM, requests))
    return Shell(shell, len(people))


def _case_of(server: LiveServer, customer_id: int) -> int:
    [case] = aml.list_cases(server.rt, customer_id=customer_id)
    return case.id


@pytest.fixture
def colleague(browser: Browser, live_server: LiveServer) -> Iterator[Visit]:
    """A second AML officer in a browser of her own (four eyes)."""
    create_staff(
        live_server.rt,
        SYSTEM,
        username="aml2",
        display_name="第二审核人",
        role=Role.AML_OFFICER,
        password=DEMO_STAFF_PASSWORD,
    )
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    yield Visit(context.new_page(), live_server)
    context.close()


def test_an_officer_works_a_shell_company_case_to_a_filed_report(
    visit: Visit, colleague: Visit, request: pytest.FixtureRequest
) -> None:
    shell = _shell_company_day(visit.server)
    today = visit.server.rt.clock.now().astimezone(visit.server.rt.policy.zone).date().isoformat()
    page = visit.page
    visit.goto("/staff/login")
    visit.log_in("aml")
    page.locator("nav").get_by_role("link", name="反洗钱案件").click()
    expect(page.locator("h1")).to_have_text("反洗钱案件")

    page.locator("#first_day").fill(today)
    page.locator("#last_day").fill(today)
    page.locator("#run-scan").click()
    expect(page.locator("#done")).to_have_text("扫描已完成。")
    case_id = _case_of(visit.server, shell.customer_id)
    row = page.locator(f"#cases tbody tr[data-case='{case_id}']")
    expect(row).to_contain_text("快进快出")
    expect(row).to_contain_text("*")
    expect(page.locator("#scans tbody tr").first).to_contain_text("已完成")
    row.get_by_role("link").click()

    expect(page.locator("h1")).to_contain_text("反洗钱案件")
    assert SHELL_NAME not in page.content()  # masked on screen
    alerts = page.locator("#alerts")
    expect(alerts).to_contain_text("快进快出")
    expect(alerts).to_contain_text("资金用途“广告费”与登记的经营范围“票务代理、印刷、场地租赁”不符")
    expect(alerts).to_contain_text("无代发工资历史")
    expect(page.locator("#fund-flow svg")).to_be_visible()
    expect(page.locator("#movements tbody tr")).to_have_count(1 + shell.people)
    visit.screenshot(f"aml-case-zh-CN-{backend_id(request)}")

    page.locator("#suspend-reason").fill("资金快进快出，与经营范围不符")
    page.locator("#suspend").click()
    expect(page.locator("#done")).to_have_text("客户电子银行已暂停，待审查。")
    expect(page.locator("#suspension")).to_contain_text("网上银行")

    page.locator("#draft-report").click()
    expect(page.locator("#done")).to_contain_text("报告已生成草稿")
    narrative = page.locator("#narrative")
    expect(narrative).to_contain_text("广告费")
    expect(page.locator("#measures")).to_have_value("已暂停客户电子银行渠道，待审查")
    narrative.fill(narrative.input_value() + "\n走访发现公司已搬离注册地址，法定代表人无法联系。")
    page.locator("#save").click()
    expect(page.locator("#done")).to_have_text("报告已保存。")
    report_url = page.url.split("?")[0]
    page.locator("#review").click()
    expect(page.locator("#error")).to_have_text("须由另一名专员复核您制作的报告。")

    other = colleague.page
    colleague.goto("/staff/login")
    colleague.log_in("aml2")
    other.goto(report_url)
    expect(other.locator("#narrative")).to_contain_text("法定代表人无法联系")
    other.locator("#review").click()
    expect(other.locator("#report-status")).to_have_text("已复核")
    with other.expect_download() as download:
        other.locator("#export-xml").click()
    content = download.value.path().read_text(encoding="utf-8")
    assert SHELL_NAME in content  # the regulator gets the real name
    assert "走访发现公司已搬离注册地址" in content
    other.locator("#file").click()
    expect(other.locator("#report-status")).to_have_text("已报送")
    other.locator("#report-facts a").click()
    expect(other.locator("#case-status")).to_have_text("已报告")

    page.locator("nav").get_by_role("link", name="大额交易报告").click()
    rows = page.locator("#large-value tbody tr[data-report]")
    ours = rows.filter(has_text="个人境内转账").filter(has_text=today)
    expect(ours).to_have_count(shell.people)
    ours.first.locator(".file-report").click()
    expect(page.locator("#done")).to_have_text("大额交易报告已登记为已报送。")
    assert not visit.foreign_requests()
