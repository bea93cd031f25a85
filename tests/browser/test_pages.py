"""What a person sees in the bank's pages, in a real browser: the landing page and its language
switch, the staff login, a teller's customer lookup down to the account statement, a role that
may not see customers, and the lock after five wrong passwords."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ebank.sim.demo import DEMO_INDIVIDUAL, DEMO_STAFF, DEMO_STAFF_PASSWORD
from tests.browser.conftest import Visit, backend_id

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u4e00-\u9fff]")
ZH_ROLES = [
    "柜员",
    "网点主管",
    "风险分析员",
    "反洗钱合规专员",
    "争议处理专员",
    "系统管理员",
    "审计员",
]
EN_ROLES = [
    "Teller",
    "Branch supervisor",
    "Fraud / risk analyst",
    "AML compliance officer",
    "Dispute officer",
    "Administrator",
    "Auditor",
]
TELLER = next(person for person in DEMO_STAFF if person.username == "teller")
WRONG_PASSWORD = "not-the-password-1"


def test_landing_page_in_chinese_then_english_then_chinese(
    visit: Visit, request: pytest.FixtureRequest
) -> None:
    page = visit.page
    visit.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_title("欢迎 · 易银行")
    expect(page.locator("h1")).to_have_text("易银行 — 安全的电子银行")
    expect(page.locator("section.hero p")).to_contain_text("先行赔付")

    staff = page.locator("#demo-staff tbody tr")
    expect(staff).to_have_count(7)
    expect(page.locator("#demo-staff tbody td:nth-child(1)")).to_have_text(
        [person.username for person in DEMO_STAFF]
    )
    expect(page.locator("#demo-staff tbody td:nth-child(2)")).to_have_text(ZH_ROLES)
    expect(page.locator("#demo-staff tbody td:nth-child(3)")).to_have_text(
        [person.display_name for person in DEMO_STAFF]
    )
    expect(page.locator("code.password")).to_have_text(DEMO_STAFF_PASSWORD)
    expect(page.locator("#demo-customers")).to_contain_text("134****0001")
    assert DEMO_INDIVIDUAL.mobile not in visit.text()
    visit.screenshot(f"landing-zh-CN-{backend_id(request)}")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("ebank — secure electronic banking")
    expect(page.locator("#demo-staff tbody td:nth-child(2)")).to_have_text(EN_ROLES)
    assert not HAN.search(page.locator("#demo-staff thead").inner_text())
    visit.screenshot(f"landing-en-{backend_id(request)}")

    # The choice is remembered: the next page is English too, though the browser asks for Chinese.
    page.get_by_role("link", name="Go to the staff portal").click()
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    expect(page.locator("h1")).to_have_text("Staff login")
    expect(page.get_by_label("User name")).to_be_visible()

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("员工登录")
    page.get_by_role("link", name="易银行").click()
    expect(page.locator("h2").first).to_have_text("体验演示银行")

    assert visit.requests, "no request was recorded"
    assert not visit.foreign_requests(), "the pages must work offline"


def test_staff_login_errors_in_the_page_language_then_home_and_logout(visit: Visit) -> None:
    page = visit.page
    visit.goto("/staff/login")
    expect(page.locator("h1")).to_have_text("员工登录")
    expect(page.get_by_label("用户名")).to_be_editable()
    expect(page.get_by_label("密码")).to_have_attribute("type", "password")

    visit.log_in("teller", WRONG_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Staff login")
    visit.log_in("teller", WRONG_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("The user name or password is incorrect.")

    page.get_by_role("link", name="中文").click()
    visit.log_in("teller")
    expect(page).to_have_url(re.compile(r"/staff$"))
    expect(page.locator("h1")).to_have_text(f"欢迎您，{TELLER.display_name}")
    expect(page.get_by_test_id("who")).to_have_text(f"{TELLER.display_name} · 柜员")
    expect(page.locator("main")).to_contain_text("您当前以柜员身份登录。")
    expect(page.locator("#permissions")).to_contain_text("查询客户")

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    expect(page.locator("h1")).to_have_text("员工登录")

    visit.goto("/staff")
    expect(page).to_have_url(re.compile(r"/staff/login\?next=/staff$"))
    expect(page.get_by_label("密码")).to_be_visible()
    assert not visit.foreign_requests()


def test_teller_finds_customer_and_reads_the_statement(
    visit: Visit, request: pytest.FixtureRequest
) -> None:
    page = visit.page
    visit.goto("/staff/login")
    visit.log_in("teller")
    page.get_by_role("link", name="查找客户").click()
    expect(page.locator("h1")).to_have_text("查找客户")

    page.get_by_label("证件号码、预留手机号或全名").fill(DEMO_INDIVIDUAL.document_number)
    page.get_by_role("button", name="查询").click()
    results = page.locator("#results tbody tr")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("*三")
    expect(results).to_contain_text("134****0001")
    expect(results).to_contain_text("个人")
    expect(results).to_contain_text("1101**********1239")
    assert DEMO_INDIVIDUAL.mobile not in visit.text()
    assert DEMO_INDIVIDUAL.mobile not in page.content()
    assert DEMO_INDIVIDUAL.name not in visit.text()

    results.get_by_role("link", name="*三").click()
    expect(page.locator("h1")).to_have_text("*三")
    expect(page.locator("#customer")).to_contain_text("134****0001")
    expect(page.locator("#customer")).to_contain_text("软件工程师")
    assert DEMO_INDIVIDUAL.mobile not in page.content()
    accounts = page.locator("#accounts tbody tr")
    expect(accounts).to_have_count(2)
    funded = accounts.filter(has_text="50,000.00")
    expect(funded).to_have_count(1)
    expect(accounts.filter(has_text="0.00").filter(has_not_text="50,000.00")).to_have_count(1)

    funded.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text("对账单")
    expect(page.locator("#balance")).to_contain_text("50,000.00")
    entries = page.locator("#entries tbody tr")
    expect(entries).to_have_count(1)
    deposit = entries.first
    expect(deposit.locator("td").nth(1)).to_have_text("开户存款")
    expect(deposit.locator("td.credit")).to_contain_text("50,000.00")
    expect(deposit.locator("td.debit")).to_have_text("")
    expect(deposit.locator("td").nth(5)).to_contain_text("50,000.00")
    expect(page.locator("#closing")).to_contain_text("50,000.00")
    assert DEMO_INDIVIDUAL.mobile not in page.content()
    visit.screenshot(f"statement-zh-CN-{backend_id(request)}")
    assert not visit.foreign_requests()


def test_admin_logs_in_without_customer_access(visit: Visit) -> None:
    page = visit.page
    visit.goto("/staff/login")
    visit.log_in("admin")
    expect(page).to_have_url(re.compile(r"/staff$"))
    expect(page.get_by_test_id("who")).to_have_text("管理员 吴刚 · 系统管理员")
    expect(page.get_by_role("link", name="客户查询")).to_have_count(0)
    expect(page.get_by_role("link", name="查找客户")).to_have_count(0)
    expect(page.locator("#permissions")).not_to_contain_text("customers.read")
    assert not visit.foreign_requests()


def test_admin_is_refused_the_customers_page(visit: Visit) -> None:
    page = visit.page
    visit.goto("/staff/login")
    visit.log_in("admin")

    response = visit.goto("/staff/customers")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("无权操作")
    expect(page.get_by_role("alert")).to_have_text("您的角色无权执行此操作")
    expect(page.get_by_test_id("who")).to_contain_text("系统管理员")

    response = visit.goto(f"/staff/customers?q={DEMO_INDIVIDUAL.document_number}")
    assert response.status == 403
    assert "*三" not in visit.text()
    assert not visit.foreign_requests()


def test_five_wrong_passwords_lock_the_account(visit: Visit) -> None:
    page = visit.page
    visit.goto("/staff/login")
    alert = page.get_by_role("alert")
    for _attempt in range(3):
        visit.log_in("auditor", WRONG_PASSWORD)
        expect(alert).to_have_text("用户名或密码错误")

    visit.log_in("auditor", WRONG_PASSWORD)
    expect(alert).to_have_text("用户名或密码错误，再输错 1 次账号将被锁定")

    visit.log_in("auditor", WRONG_PASSWORD)
    expect(alert).to_have_text("密码错误次数过多，账号已锁定，请联系系统管理员解锁")

    # Locked means locked: the right password no longer opens the portal.
    visit.log_in("auditor")
    expect(alert).to_have_text("密码错误次数过多，账号已锁定，请联系系统管理员解锁")
    expect(page).to_have_url(re.compile(r"/staff/login$"))

    # The same warning in English.
    page.get_by_role("link", name="English").click()
    visit.log_in("auditor")
    expect(alert).to_have_text(
        "This account is locked after too many failed attempts. Ask an administrator to unlock it."
    )
    assert not visit.foreign_requests()
