"""The fund-flow SVG of an AML case: valid XML, the right elements, escaping, layout, the cap."""

from __future__ import annotations

import random
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import FrozenInstanceError, fields
from datetime import date

import pytest

from ebank.aml.graph import (
    FlowEdge,
    FlowNode,
    GraphWords,
    format_minor_amount,
    render_fund_flow,
)

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2024, 3, 1)
PEOPLE = ["李某", "张某某", "刘某", "陈某某", "赵某"]


def edge(source: str, target: str, amount: int, count: int = 1, days: int = 0) -> FlowEdge:
    return FlowEdge(source, target, amount, count, DAY, date(2024, 3, 1 + days))


def shell_company() -> tuple[list[FlowNode], list[FlowEdge]]:
    """An advertising company pays the subject in 10 transfers; the subject pays 5 individuals."""
    nodes = [
        FlowNode("ad", "深圳某某广告有限公司 ·6789", "counterparty", flagged=True),
        FlowNode("subj", "王某某 ·1234", "subject", flagged=True),
        *(
            FlowNode(f"p{i}", f"{name} ·{4001 + i}", "counterparty")
            for i, name in enumerate(PEOPLE)
        ),
    ]
    edges = [edge("ad", "subj", 98_765_432, count=10, days=27)]
    edges += [edge("subj", f"p{i}", 19_800_000 - i * 50_000, count=i + 1) for i in range(5)]
    return nodes, edges


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (the renderer's own output, parsed to check it)


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]


def node_label(group: ET.Element) -> str:
    text = group.find(f"{SVG}text[@class='node-label']")
    assert text is not None
    return text.text or ""


def nodes_by_label(root: ET.Element) -> dict[str, ET.Element]:
    return {node_label(g): g for g in groups(root, "node")}


def rect(group: ET.Element) -> ET.Element:
    found = group.find(f"{SVG}rect")
    assert found is not None
    return found


def node_x(root: ET.Element, label: str) -> float:
    return float(rect(nodes_by_label(root)[label]).get("x", "nan"))


def edge_labels(root: ET.Element) -> list[str]:
    texts = [g.find(f"{SVG}text") for g in groups(root, "edge-label")]
    return [t.text or "" for t in texts if t is not None]


def hover(group: ET.Element) -> str:
    title = group.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def render_in_time(nodes: list[FlowNode], edges: list[FlowEdge]) -> str:
    """Render in a daemon thread, so a layout that loops on a cycle fails instead of hanging."""
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(render_fund_flow(nodes, edges)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "render_fund_flow did not finish"
    return result[0]


def path_ends(group: ET.Element) -> tuple[float, float]:
    """The x where an edge's path starts and where it ends."""
    path = group.find(f"{SVG}path")
    assert path is not None
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    return numbers[0], numbers[-2]


# --- the document ---------------------------------------------------------------------------


def test_a_standalone_svg_document_without_script_or_external_resources() -> None:
    svg = render_fund_flow(*shell_company(), title="Case 42")

    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.get("viewBox", "").split()) == 4
    assert "Noto Sans CJK SC" in root.get("font-family", "")
    assert root.get("font-family", "").endswith("sans-serif")
    tags = {element.tag for element in root.iter()}
    assert f"{SVG}script" not in tags
    assert f"{SVG}style" not in tags
    assert "@import" not in svg
    assert "javascript:" not in svg
    assert re.findall(r"https?://[^\"']+", svg) == ["http://www.w3.org/2000/svg"]
    assert root.findtext(f"{SVG}title") == "Case 42"


def test_one_group_per_node_and_per_edge_with_the_markers_they_use() -> None:
    root = parse(render_fund_flow(*shell_company()))

    assert len(groups(root, "node")) == 7
    assert len(groups(root, "edge")) == 6
    assert len(groups(root, "edge-label")) == 6
    marker_ids = {m.get("id") for m in root.iter(f"{SVG}marker")}
    for group in groups(root, "edge"):
        path = group.find(f"{SVG}path")
        assert path is not None
        match = re.fullmatch(r"url\(#(.+)\)", path.get("marker-end", ""))
        assert match is not None
        assert match.group(1) in marker_ids


def test_chinese_labels_are_kept_whole() -> None:
    root = parse(render_fund_flow(*shell_company()))

    assert set(nodes_by_label(root)) == {
        "深圳某某广告有限公司 ·6789",
        "王某某 ·1234",
        *(f"{name} ·{4001 + i}" for i, name in enumerate(PEOPLE)),
    }


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (1234567, "12,345.67"),
        (0, "0.00"),
        (5, "0.05"),
        (100, "1.00"),
        (123_456_789_012, "1,234,567,890.12"),
    ],
)
def test_amounts_are_major_units_with_separators_and_two_decimals(minor: int, text: str) -> None:
    assert format_minor_amount(minor) == text


def test_edge_labels_show_the_amount_and_the_count_when_above_one() -> None:
    root = parse(render_fund_flow(*shell_company()))

    assert sorted(edge_labels(root)) == sorted(
        [
            "987,654.32 ×10",
            "198,000.00",
            "197,500.00 ×2",
            "197,000.00 ×3",
            "196,500.00 ×4",
            "196,000.00 ×5",
        ]
    )


def test_edge_hover_text_tells_amount_count_and_days() -> None:
    root = parse(render_fund_flow(*shell_company(), currency_label="CNY"))

    texts = [hover(g) for g in groups(root, "edge")]
    company = next(t for t in texts if t.startswith("深圳某某广告有限公司"))
    assert "→ 王某某 ·1234" in company
    assert "CNY 987,654.32 in 10 transfers" in company
    assert "2024-03-01 – 2024-03-28" in company
    single = next(t for t in texts if "李某" in t)
    assert "in 1 transfer\n" in single
    assert single.endswith("2024-03-01")


def test_node_hover_text_totals_money_in_and_out() -> None:
    root = parse(render_fund_flow(*shell_company()))

    subject = hover(nodes_by_label(root)["王某某 ·1234"])
    assert "In: CNY 987,654.32 in 10 transfers" in subject
    assert "Out: CNY 985,000.00 in 15 transfers" in subject


def test_stroke_width_grows_with_the_amount_within_1_to_8_px() -> None:
    nodes = [FlowNode(k, k, "subject" if k == "s" else "counterparty") for k in "sabcd"]
    amounts = {"a": 1, "b": 5_000_000, "c": 500_000_000, "d": 10**15}
    root = parse(render_fund_flow(nodes, [edge(k, "s", v) for k, v in amounts.items()]))

    widths: dict[str, float] = {}
    for group in groups(root, "edge"):
        path = group.find(f"{SVG}path")
        assert path is not None
        widths[hover(group)[0]] = float(path.get("stroke-width", "nan"))
    assert widths["a"] == 1.0
    assert widths["d"] == 8.0
    assert 1.0 < widths["b"] < widths["c"] < 8.0


# --- escaping -------------------------------------------------------------------------------


def test_markup_in_data_is_escaped_never_injected() -> None:
    evil = "<script>x</script> & 'Co\""
    nodes = [
        FlowNode("s", "王某某 ·1234", "subject"),
        FlowNode("x", evil, "counterparty"),
    ]
    svg = render_fund_flow(
        nodes,
        [edge("x", "s", 100)],
        currency_label='"><g id="inj">',
        title="</title><script>alert(1)</script>",
    )

    root = parse(svg)
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    assert "&amp; 'Co" in svg
    assert all(not element.tag.endswith("script") for element in root.iter())
    assert all(element.get("id") != "inj" for element in root.iter())
    assert node_label(nodes_by_label(root)[evil]) == evil
    assert hover(nodes_by_label(root)[evil]).startswith(evil)
    assert root.findtext(f"{SVG}title") == "</title><script>alert(1)</script>"
    assert '"><g id="inj"> 1.00' in hover(groups(root, "edge")[0])


def test_characters_xml_cannot_carry_are_replaced() -> None:
    nodes = [FlowNode("s", "王某\x00某\x1b", "subject"), FlowNode("a", "\ud800李某", "external")]

    root = parse(render_fund_flow(nodes, [edge("a", "s", 100)]))

    assert set(nodes_by_label(root)) == {"王某\ufffd某\ufffd", "\ufffd李某"}


def test_node_keys_never_appear_in_the_output() -> None:
    nodes = [
        FlowNode("6222021234567890123", "王某某 ·0123", "subject"),
        FlowNode("6217001234567899876", "李某 ·9876", "counterparty"),
    ]
    svg = render_fund_flow(nodes, [edge("6217001234567899876", "6222021234567890123", 100)])

    assert "6222021234567890123" not in svg
    assert "6217001234567899876" not in svg


def test_a_label_too_long_for_its_box_is_shortened_keeping_the_account_suffix() -> None:
    long_label = "深圳市某某某某某某某某某某某某某某某某某某广告传媒有限责任公司 ·6789"
    nodes = [FlowNode("s", "王某某 ·1234", "subject"), FlowNode("a", long_label, "counterparty")]

    root = parse(render_fund_flow(nodes, [edge("a", "s", 100)]))

    labels = [node_label(g) for g in groups(root, "node")]
    short = next(label for label in labels if label.startswith("深圳"))
    assert short != long_label
    assert "…" in short
    assert short.endswith("·6789")
    assert any(hover(g).startswith(long_label) for g in groups(root, "node"))


# --- layout ---------------------------------------------------------------------------------


def test_senders_left_of_the_subject_and_receivers_right() -> None:
    root = parse(render_fund_flow(*shell_company()))

    subject = node_x(root, "王某某 ·1234")
    assert node_x(root, "深圳某某广告有限公司 ·6789") < subject
    for i, name in enumerate(PEOPLE):
        assert node_x(root, f"{name} ·{4001 + i}") > subject


def test_longer_chains_are_layered_and_pure_receivers_sit_in_the_last_column() -> None:
    nodes = [
        FlowNode("a", "A", "counterparty"),
        FlowNode("b", "B", "counterparty"),
        FlowNode("s", "S", "subject"),
        FlowNode("c", "C", "counterparty"),
        FlowNode("d", "D", "external"),
        FlowNode("lone", "Lone", "counterparty"),
    ]
    edges = [edge("a", "b", 100), edge("b", "s", 100), edge("s", "c", 100), edge("a", "d", 100)]

    root = parse(render_fund_flow(nodes, edges))

    xs = {label: node_x(root, label) for label in "ABSCD"}
    assert xs["A"] < xs["B"] < xs["S"] < xs["C"]
    assert xs["D"] == xs["C"]
    assert node_x(root, "Lone") == xs["S"]
    for group in groups(root, "edge"):
        start, end = path_ends(group)
        assert start < end


def test_subject_and_flagged_nodes_are_styled_apart() -> None:
    nodes = [
        FlowNode("s", "S", "subject"),
        FlowNode("a", "A", "counterparty"),
        FlowNode("f", "F", "counterparty", flagged=True),
    ]
    root = parse(render_fund_flow(nodes, [edge("a", "s", 100), edge("s", "f", 100)]))

    by_label = nodes_by_label(root)
    subject, plain, flagged = (rect(by_label[k]) for k in "SAF")
    assert subject.get("fill") != plain.get("fill")
    assert float(subject.get("stroke-width", "0")) > float(plain.get("stroke-width", "0"))
    assert flagged.get("stroke") not in {plain.get("stroke"), subject.get("stroke")}
    assert flagged.get("fill") != plain.get("fill")
    assert by_label["F"].get("data-flagged") == "true"
    assert by_label["S"].get("data-role") == "subject"


def test_a_cycle_renders_with_one_edge_drawn_back_to_the_left() -> None:
    nodes = [
        FlowNode("a", "A", "counterparty"),
        FlowNode("s", "S", "subject"),
        FlowNode("c", "C", "counterparty"),
    ]
    edges = [edge("a", "s", 300), edge("s", "c", 200), edge("c", "a", 100)]

    root = parse(render_in_time(nodes, edges))

    assert len(groups(root, "edge")) == 3
    rightward = {
        hover(g)[:5]: start < end for g in groups(root, "edge") for start, end in [path_ends(g)]
    }
    # The cycle is broken at its smallest flow: C → A is drawn back to the left.
    assert rightward == {"A → S": True, "S → C": True, "C → A": False}
    assert node_x(root, "A") < node_x(root, "S") < node_x(root, "C")


def test_a_two_node_cycle_and_a_cycle_without_sources_render() -> None:
    nodes = [FlowNode("s", "S", "subject"), FlowNode("a", "A", "counterparty")]

    root = parse(render_in_time(nodes, [edge("s", "a", 100), edge("a", "s", 50)]))

    assert len(groups(root, "edge")) == 2
    assert node_x(root, "S") != node_x(root, "A")


def test_a_graph_where_everyone_pays_everyone_renders() -> None:
    keys = [f"k{i}" for i in range(12)]
    nodes = [FlowNode(k, k.upper(), "subject" if k == "k5" else "counterparty") for k in keys]
    edges = [edge(a, b, 100 + i) for i, a in enumerate(keys) for b in keys if a != b]

    root = parse(render_in_time(nodes, edges))

    assert len(groups(root, "node")) == 12
    assert len(groups(root, "edge")) == 12 * 11


def test_nodes_without_edges_render_alone() -> None:
    nodes = [FlowNode("s", "S", "subject"), FlowNode("a", "A", "counterparty")]

    root = parse(render_fund_flow(nodes, []))

    assert len(groups(root, "node")) == 2
    assert groups(root, "edge") == []
    assert list(root.iter(f"{SVG}marker")) == []


def test_no_nodes_at_all_gives_a_document_that_says_so() -> None:
    root = parse(render_fund_flow([], []))

    assert groups(root, "node") == []
    assert any(t.get("class") == "note" for t in root.iter(f"{SVG}text"))


def test_self_loops_are_ignored() -> None:
    nodes = [FlowNode("s", "S", "subject"), FlowNode("a", "A", "counterparty")]

    root = parse(render_fund_flow(nodes, [edge("s", "s", 999), edge("a", "s", 100)]))

    assert edge_labels(root) == ["1.00"]


def test_edges_between_the_same_accounts_are_merged() -> None:
    nodes = [FlowNode("s", "S", "subject"), FlowNode("a", "A", "counterparty")]
    edges = [edge("a", "s", 150, count=2, days=3), edge("a", "s", 50, count=1, days=9)]

    root = parse(render_fund_flow(nodes, edges))

    assert edge_labels(root) == ["2.00 ×3"]
    assert "2024-03-01 – 2024-03-10" in hover(groups(root, "edge")[0])


# --- determinism ----------------------------------------------------------------------------


def test_the_same_input_gives_byte_identical_output_in_any_order() -> None:
    nodes, edges = shell_company()
    nodes.append(FlowNode("q", "Q", "counterparty"))
    edges += [edge("q", "p0", 10), edge("p1", "q", 20), edge("p0", "ad", 30)]
    first = render_fund_flow(nodes, edges, title="T")

    assert render_fund_flow(nodes, edges, title="T") == first
    shuffler = random.Random(7)
    for _ in range(5):
        shuffled_nodes, shuffled_edges = nodes[:], edges[:]
        shuffler.shuffle(shuffled_nodes)
        shuffler.shuffle(shuffled_edges)
        assert render_fund_flow(shuffled_nodes, shuffled_edges, title="T") == first


# --- the cap --------------------------------------------------------------------------------


def many_counterparties(count: int) -> tuple[list[FlowNode], list[FlowEdge]]:
    """The subject receives 1 fen; ``count`` counterparties pay each other growing amounts."""
    nodes = [FlowNode("subj", "SUBJECT", "subject")]
    nodes += [FlowNode(f"c{i:03d}", f"C{i:03d}", "counterparty") for i in range(count)]
    edges = [edge("c000", "subj", 1)]
    edges += [edge(f"c{i:03d}", f"c{i + 1:03d}", 1000 * (i + 1)) for i in range(count - 1)]
    return nodes, edges


def test_over_the_cap_the_subject_and_the_largest_flows_stay_with_a_note() -> None:
    nodes, edges = many_counterparties(199)

    root = parse(render_fund_flow(nodes, edges, max_nodes=60))

    labels = set(nodes_by_label(root))
    assert len(labels) == 60
    assert "SUBJECT" in labels
    # c_i receives 1000·i and sends 1000·(i+1); the last one only receives 198,000: the 59
    # largest totals are c139 … c197.
    assert labels - {"SUBJECT"} == {f"C{i:03d}" for i in range(139, 198)}
    notes = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["140 more counterparties not shown"]
    ends = [hover(g).split("\n")[0].split(" → ") for g in groups(root, "edge")]
    assert len(ends) == 58
    assert all(set(pair) <= labels for pair in ends)


def test_under_the_cap_there_is_no_note() -> None:
    nodes, edges = many_counterparties(59)

    root = parse(render_fund_flow(nodes, edges, max_nodes=60))

    assert len(groups(root, "node")) == 60
    assert [t for t in root.iter(f"{SVG}text") if t.get("class") == "note"] == []


def test_over_the_cap_flagged_nodes_are_kept_before_larger_flows() -> None:
    nodes, edges = many_counterparties(10)
    nodes[1] = FlowNode("c000", "C000", "counterparty", flagged=True)

    root = parse(render_fund_flow(nodes, edges, max_nodes=3))

    assert set(nodes_by_label(root)) == {"SUBJECT", "C000", "C008"}
    notes = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["8 more counterparties not shown"]


# --- words ---------------------------------------------------------------------------------

CHINESE = GraphWords(
    document_title="资金流向图",
    subject="本案客户",
    counterparty="交易对手",
    external="他行账户",
    flagged="涉及可疑模式",
    flagged_role="{role}（{flagged}）",
    legend_note="金额单位 {currency} · 线宽随金额的对数增长 · ×N 表示 N 笔",
    edge_label="{amount} ×{count}",
    route="{source} → {target}",
    edge_flow="{currency} {amount}，共 {transfers}",
    money_in="转入：{currency} {amount}，共 {transfers}",
    money_out="转出：{currency} {amount}，共 {transfers}",
    one_transfer="{count} 笔",
    transfers="{count} 笔",
    day_range="{first} 至 {last}",
    one_more_not_shown="另有 {count} 个交易对手未显示",
    more_not_shown="另有 {count} 个交易对手未显示",
    no_accounts="没有可显示的账户",
)

ENGLISH_WORDS = [
    "subject",
    "counterpart",
    "external",
    "flagged",
    "amounts",
    "line width",
    "transfer",
    " in ",
    "in:",
    "out:",
    "more",
    "not shown",
    "no accounts",
    "fund flow",
]


def with_external() -> tuple[list[FlowNode], list[FlowEdge]]:
    """The shell company case plus a large payment to another bank's account."""
    nodes, edges = shell_company()
    nodes.append(FlowNode("x", "某银行账户 ·5555", "external"))
    edges.append(edge("subj", "x", 50_000_000, count=2, days=1))
    return nodes, edges


def text_content(root: ET.Element) -> str:
    """Every text the SVG draws or shows on hover (no attribute values)."""
    return "\n".join(t for element in root.iter() for t in (element.text, element.tail) if t)


def legend_texts(root: ET.Element) -> list[str]:
    return [t.text or "" for g in groups(root, "legend") for t in g.iter(f"{SVG}text")]


def notes(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "note"]


def node_sub(group: ET.Element) -> str:
    text = group.find(f"{SVG}text[@class='node-role']")
    assert text is not None
    return text.text or ""


def test_chinese_words_replace_every_english_text() -> None:
    nodes, edges = with_external()
    root = parse(
        render_fund_flow(nodes, edges, currency_label="人民币", max_nodes=6, words=CHINESE)
    )

    assert legend_texts(root) == [
        "本案客户",
        "交易对手",
        "他行账户",
        "涉及可疑模式",
        "金额单位 人民币 · 线宽随金额的对数增长 · ×N 表示 N 笔",
    ]
    by_label = nodes_by_label(root)
    assert node_sub(by_label["王某某 ·1234"]) == "本案客户（涉及可疑模式）"
    assert node_sub(by_label["深圳某某广告有限公司 ·6789"]) == "交易对手（涉及可疑模式）"
    assert node_sub(by_label["某银行账户 ·5555"]) == "他行账户"
    assert node_sub(by_label["李某 ·4001"]) == "交易对手"
    assert hover(by_label["王某某 ·1234"]).split("\n") == [
        "王某某 ·1234",
        "本案客户（涉及可疑模式）",
        "转入：人民币 987,654.32，共 10 笔",
        "转出：人民币 1,092,500.00，共 8 笔",
    ]
    edge_hovers = {hover(g) for g in groups(root, "edge")}
    assert (
        "深圳某某广告有限公司 ·6789 → 王某某 ·1234\n人民币 987,654.32，共 10 笔\n2024-03-01 至 2024-03-28"
        in edge_hovers
    )
    assert "王某某 ·1234 → 李某 ·4001\n人民币 198,000.00，共 1 笔\n2024-03-01" in edge_hovers
    assert "987,654.32 ×10" in edge_labels(root)
    assert root.findtext(f"{SVG}title") == "资金流向图"
    assert notes(root) == ["另有 2 个交易对手未显示"]
    content = text_content(root).lower()
    assert [word for word in ENGLISH_WORDS if word in content] == []
    assert re.findall("[a-z]{2,}", content) == []  # no English word (the legend keeps ×N)


def test_chinese_words_for_one_hidden_node_and_for_no_node() -> None:
    one_hidden = parse(render_fund_flow(*many_counterparties(3), max_nodes=3, words=CHINESE))
    empty = parse(render_fund_flow([], [], words=CHINESE))

    assert notes(one_hidden) == ["另有 1 个交易对手未显示"]
    assert notes(empty) == ["没有可显示的账户"]
    assert [w for w in ENGLISH_WORDS if w in text_content(empty).lower()] == []


def test_the_default_words_are_the_english_texts() -> None:
    nodes, edges = with_external()
    default = render_fund_flow(nodes, edges, max_nodes=6)

    assert render_fund_flow(nodes, edges, max_nodes=6, words=GraphWords()) == default
    root = parse(default)
    assert legend_texts(root) == [
        "subject",
        "counterparty",
        "external",
        "flagged",
        "Amounts in CNY · line width grows with log(amount) · ×N = N transfers",
    ]
    by_label = nodes_by_label(root)
    assert node_sub(by_label["王某某 ·1234"]) == "subject · flagged"
    assert node_sub(by_label["某银行账户 ·5555"]) == "external"
    assert root.findtext(f"{SVG}title") == "Fund flow"
    assert notes(root) == ["2 more counterparties not shown"]
    assert notes(parse(render_fund_flow(*many_counterparties(3), max_nodes=3))) == [
        "1 more counterparty not shown"
    ]
    assert notes(parse(render_fund_flow([], []))) == ["No accounts to show"]
    with pytest.raises(FrozenInstanceError):
        GraphWords().subject = "x"  # type: ignore[misc]


def test_markup_in_the_words_is_escaped_never_injected() -> None:
    defaults = GraphWords()
    evil = GraphWords(**{f.name: "<b>&" + getattr(defaults, f.name) for f in fields(GraphWords)})
    nodes, edges = with_external()

    svg = render_fund_flow(nodes, edges, max_nodes=6, words=evil)
    empty = render_fund_flow([], [], words=evil)

    for document in (svg, empty):
        root = parse(document)
        assert "<b>" not in document
        assert "&lt;b&gt;&amp;" in document
        assert all(not element.tag.endswith("}b") for element in root.iter())
    root = parse(svg)
    assert legend_texts(root)[:4] == [
        "<b>&subject",
        "<b>&counterparty",
        "<b>&external",
        "<b>&flagged",
    ]
    assert root.findtext(f"{SVG}title") == "<b>&Fund flow"
    assert notes(root) == ["<b>&2 more counterparties not shown"]
    assert node_sub(nodes_by_label(root)["王某某 ·1234"]) == "<b>&<b>&subject · <b>&flagged"
    assert notes(parse(empty)) == ["<b>&No accounts to show"]


def test_braces_in_data_and_in_plain_words_are_kept_as_they_are() -> None:
    nodes = [FlowNode("s", "{target} ·1234", "subject"), FlowNode("a", "{0}", "counterparty")]
    words = GraphWords(subject="{x}", more_not_shown="{{{count}}}")

    root = parse(render_fund_flow(nodes, [edge("a", "s", 100)], words=words))

    assert hover(groups(root, "edge")[0]).startswith("{0} → {target} ·1234\n")
    assert node_sub(nodes_by_label(root)["{target} ·1234"]) == "{x}"
    assert GraphWords(more_not_shown="{{{count}}}").more_not_shown.format(count=2) == "{2}"


@pytest.mark.parametrize(
    ("field", "template"),
    [
        ("more_not_shown", "{count.__class__}"),
        ("route", "{source[0]}"),
        ("legend_note", "{currency!r}"),
        ("transfers", "{count:>9}"),
        ("edge_flow", "{currency} {nope}"),
        ("day_range", "{} – {}"),
        ("money_in", "{0}"),
        ("one_transfer", "{count"),
        ("flagged_role", "{role} }"),
    ],
)
def test_a_template_beyond_its_bare_placeholders_is_refused(field: str, template: str) -> None:
    with pytest.raises(ValueError, match=f"GraphWords.{field}"):
        GraphWords(**{field: template})


# --- refused input --------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [("ghost", "s"), ("s", "ghost"), ("ghost", "ghost")])
def test_an_edge_to_an_unknown_node_is_refused(source: str, target: str) -> None:
    nodes = [FlowNode("s", "S", "subject")]

    with pytest.raises(ValueError, match="unknown node 'ghost'"):
        render_fund_flow(nodes, [edge(source, target, 100)])


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ([FlowNode("s", "S", "subject"), FlowNode("s", "T", "external")], [], "duplicate"),
        ([FlowNode("s", "S", "boss")], [], "unknown role"),
        ([FlowNode("s", "S", "subject")], [edge("s", "s", -1)], "negative"),
        ([FlowNode("s", "S", "subject")], [edge("s", "s", 1, count=0)], "no transfer"),
    ],
)
def test_inconsistent_input_is_refused(
    nodes: list[FlowNode], edges: list[FlowEdge], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_fund_flow(nodes, edges)


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        render_fund_flow([FlowNode("s", "S", "subject")], [], max_nodes=0)
