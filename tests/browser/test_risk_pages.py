"""The risk analyst's pages in a real browser: 张三's payment is held by a live rule, the analyst
finds it in the queue, reads the reasons, releases it and labels it; then drafts rule sets, a bad
one refused with what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from ebank.common.actor import Actor
from ebank.ledger import service as ledger
from ebank.risk import configuration
from ebank.sim.demo import DEMO_COMPANY, DEMO_TRANSACTION_PASSWORD
from ebank.staff.permissions import Role
from tests.browser.conftest import LiveServer, Visit, backend_id
from tests.browser.test_customer_pages import _company_account, _log_in_with_sms, _sms_code

pytestmark = pytest.mark.browser

HOLD_FROM_1000 = """rules:
  - id: hold_from_1000
    when: {field: amount, op: ">=", value: 100000}
    outcome: hold
    reason: {en: One thousand or more., zh-CN: 一千元及以上须人工审核。}
"""


@pytest.fixture
def analyst(browser: Browser, live_server: LiveServer) -> Iterator[Visit]:
    """The risk analyst's own browser (staff and customers never share one session)."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    yield Visit(context.new_page(), live_server)
    context.close()


def _live_rule_set(server: LiveServer) -> None:
    maker = Actor("staff", "801", Role.RISK_ANALYST.value)
    checker = Actor("staff", "802", Role.RISK_ANALYST.value)
    version = configuration.draft_rule_set(server.rt, maker, HOLD_FROM_1000, "manual review")
    configuration.move_rule_set(server.rt, checker, version.id, "live")


def _pay_the_company(visit: Visit, amount: str) -> None:
    page = visit.page
    visit.goto("/bank/login")
    _log_in_with_sms(visit)
    page.locator("nav").get_by_role("link", name="转账", exact=True).click()
    page.get_by_label("收款人账号").fill(
        ledger.reveal_account_number(visit.server.rt, _company_account(visit).id)
    )
    page.get_by_label("收款人户名").fill(DEMO_COMPANY.name)
    page.get_by_label("金额（元）").fill(amount)
    page.locator("#next").click()
    page.get_by_label("验证码").fill(_sms_code(visit))
    page.get_by_label("交易密码").fill(DEMO_TRANSACTION_PASSWORD)
    page.locator("#pay").click()
    expect(page.locator("#outcome")).to_have_attribute("data-status", "held")


def test_an_analyst_releases_a_held_payment_and_labels_it(
    visit: Visit, analyst: Visit, request: pytest.FixtureRequest
) -> None:
    _live_rule_set(visit.server)
    company = _company_account(visit)
    _pay_the_company(visit, "2000.00")
    assert ledger.get_account(visit.server.rt, company.id).balance == company.balance

    page = analyst.page
    analyst.goto("/staff/login")
    analyst.log_in("risk")
    page.locator("nav").get_by_role("link", name="风险预警").click()
    expect(page.locator("h1")).to_have_text("风险预警")
    rows = page.locator("#alerts tbody tr[data-alert]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("被暂缓的付款")
    expect(rows.first).to_contain_text("2,000.00")
    rows.first.get_by_role("link").click()

    expect(page.locator("#reasons")).to_contain_text("一千元及以上须人工审核。")
    expect(page.locator("#payee")).to_contain_text("*")
    assert DEMO_COMPANY.name not in page.content()  # the payee's name is masked
    expect(page.locator("#history tbody tr").first).to_contain_text("转账")
    expect(page.locator("#history tr[data-kind=registration]").first).to_be_visible()
    analyst.screenshot(f"risk-alert-zh-CN-{backend_id(request)}")

    page.locator("#release-note").fill("已电话联系客户本人确认")
    page.locator("#release").click()
    expect(page.locator("#done")).to_have_text("付款已放行。")
    expect(page.locator("#status")).to_have_text("已放行")
    assert ledger.get_account(visit.server.rt, company.id).balance == company.balance + 200_000

    page.locator("#label-genuine").click()
    expect(page.locator("#label")).to_contain_text("非欺诈")
    expect(page.locator("#decisions")).to_have_count(0)  # nothing left to decide

    page.get_by_role("link", name="返回队列").click()
    expect(page.locator("#no-alerts")).to_be_visible()
    assert not analyst.foreign_requests()


def test_an_analyst_drafts_rule_sets_and_a_bad_one_is_refused(analyst: Visit) -> None:
    page = analyst.page
    analyst.goto("/staff/login")
    analyst.log_in("risk")
    page.locator("nav").get_by_role("link", name="规则与模型").click()
    expect(page.locator("h1")).to_have_text("规则与模型")

    bad = HOLD_FROM_1000.replace("field: amount", "field: amount_in_dollars")
    page.locator("#body").fill(bad)
    page.locator("#note").fill("试验")
    page.locator("#submit-draft").click()
    expect(page.locator("#error")).to_contain_text("该规则集无法使用")
    expect(page.locator("#error")).to_contain_text("amount_in_dollars")
    expect(page.locator("#body")).to_have_value(bad)  # nothing typed is lost

    page.locator("#body").fill(HOLD_FROM_1000)
    page.locator("#note").fill("大额人工审核")
    page.locator("#submit-draft").click()
    row = page.locator("#rule-sets tbody tr[data-version]")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("草稿")
    row.get_by_role("button", name="上线").click()
    expect(page.locator("#error")).to_contain_text("四眼原则")
    row.get_by_role("button", name="影子运行").click()
    expect(page.locator("#rule-sets .status")).to_have_text("影子运行")
    expect(page).to_have_url(re.compile(r"/staff/risk/rule-sets$"))


def test_training_a_model_without_labels_is_refused_in_the_page(analyst: Visit) -> None:
    page = analyst.page
    analyst.goto("/staff/login")
    analyst.log_in("risk")
    analyst.goto("/staff/risk/rule-sets")
    expect(page.locator("#models")).to_contain_text("尚无模型")
    page.locator("#train-from").fill("2026-10-01")
    page.locator("#train-to").fill("2026-10-28")
    page.locator("#submit-train").click()
    expect(page.locator("#error")).to_contain_text("既有已确认的欺诈交易")
    expect(page.locator("#models tbody tr[data-model]")).to_have_count(0)
