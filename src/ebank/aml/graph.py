"""Server-side SVG of a case's fund-flow graph, for anti-money-laundering review.

An AML officer reviewing a case sees which accounts sent money to which, how much and how many
times. :func:`render_fund_flow` turns :class:`FlowNode` and :class:`FlowEdge` values into one
standalone SVG document (a ``str``); it does no I/O and is deterministic: the same input gives a
byte-identical string.

Layout, left to right by the direction of money:

* nodes are layered by the longest path from the sources (accounts that only send), so every
  edge points right; cycles are broken first: edges are taken largest amount first and one that
  would close a cycle is left out of the layering (it is drawn as a curve back to the left);
* accounts that only receive go to the rightmost column, accounts without any edge to the
  subject's column; the subject therefore sits between its senders and its receivers;
* within a column, nodes are ordered by key, then by a few barycentre sweeps (ties by key) to
  cut crossings; columns are centred vertically.

Edges with the same source and target are merged (amounts and counts added, days widened);
self-loops are ignored; an edge naming an unknown node raises :class:`ValueError`. When there are
more than ``max_nodes`` nodes, the subject(s) are kept, then flagged nodes, then the others by total
flow (money in plus out, largest first, ties by key), and a note tells how many were left out.

Every word the SVG draws or shows on hover (role names, legend, hover lines, notes) comes from a
:class:`GraphWords` the caller passes, so the graph can be rendered in Chinese or English; the
defaults are English.

Every text that comes from data (labels, currency, title, the words) is escaped, and characters
that XML cannot carry are replaced by U+FFFD, so data can never inject markup. Node keys never appear in the
output (they may be account identifiers): only the already-masked labels do. No script, no
stylesheet, no web font: presentation attributes only, with a font list that starts with
"Noto Sans CJK SC" so Chinese labels render where that font is installed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from string import Formatter
from typing import Final, TypeAlias
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "ROLES",
    "FlowEdge",
    "FlowNode",
    "GraphWords",
    "format_minor_amount",
    "render_fund_flow",
]

ROLES: Final = frozenset({"subject", "counterparty", "external"})
"""The roles a :class:`FlowNode` may have; ``"subject"`` is the case's customer."""

SVG_NS: Final = "http://www.w3.org/2000/svg"

_FONT_FAMILY: Final = (
    "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif"
)

# Geometry, in px.
_MARGIN: Final = 24
_NODE_H: Final = 46
_ROW_GAP: Final = 20
_COL_GAP: Final = 210
_NODE_PAD: Final = 12
_MIN_NODE_W: Final = 150
_MAX_NODE_W: Final = 250
_MIN_CANVAS_W: Final = 640
_BACK_BOW: Final = 56
_BACK_REACH: Final = 70
_BACK_OFFSET: Final = 8

# Type sizes, in px.
_TITLE_FONT: Final = 16
_LABEL_FONT: Final = 13
_SUB_FONT: Final = 11
_EDGE_FONT: Final = 12
_LEGEND_FONT: Final = 11

# Stroke widths: 1 px up to 100.00, 8 px from 10,000,000.00, linear in log10 between.
_MIN_STROKE: Final = 1.0
_MAX_STROKE: Final = 8.0
_STROKE_LOG_LOW: Final = 4.0
_STROKE_LOG_HIGH: Final = 9.0

_BARYCENTRE_SWEEPS: Final = 4
_BISECTION_STEPS: Final = 40

_INK: Final = "#0f172a"
_MUTED: Final = "#475569"
_EDGE: Final = "#64748b"
_FLAGGED_EDGE: Final = "#dc2626"
_PAPER: Final = "#ffffff"


@dataclass(frozen=True)
class _Style:
    fill: str
    stroke: str
    stroke_width: float
    dash: str = ""


_ROLE_STYLE: Final[Mapping[str, _Style]] = {
    "subject": _Style("#dbeafe", "#1d4ed8", 2.5),
    "counterparty": _Style("#f8fafc", "#64748b", 1.2),
    "external": _Style("#f1f5f9", "#94a3b8", 1.2, "5 3"),
}
_FLAGGED_FILL: Final = "#fee2e2"
_FLAGGED_STROKE: Final = "#dc2626"

# Characters XML 1.0 cannot carry, even escaped (controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML: Final = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_TRANSFER_PLACEHOLDERS: Final = frozenset({"currency", "amount", "transfers"})

# The placeholders each templated field of GraphWords may use; other fields are plain text.
_PLACEHOLDERS: Final[Mapping[str, frozenset[str]]] = {
    "flagged_role": frozenset({"role", "flagged"}),
    "legend_note": frozenset({"currency"}),
    "edge_label": frozenset({"amount", "count"}),
    "route": frozenset({"source", "target"}),
    "edge_flow": _TRANSFER_PLACEHOLDERS,
    "money_in": _TRANSFER_PLACEHOLDERS,
    "money_out": _TRANSFER_PLACEHOLDERS,
    "one_transfer": frozenset({"count"}),
    "transfers": frozenset({"count"}),
    "day_range": frozenset({"first", "last"}),
    "one_more_not_shown": frozenset({"count"}),
    "more_not_shown": frozenset({"count"}),
}


@dataclass(frozen=True)
class GraphWords:
    """Every human-readable text of the fund-flow SVG; the defaults are English.

    Fields listed with placeholders are :meth:`str.format` templates that may use only those
    named placeholders, each bare (no attribute, index, conversion or format spec; a literal
    brace is doubled); placeholders may be left out. The other fields are plain text. A template
    using anything else raises :class:`ValueError` when the ``GraphWords`` is created. The words
    are escaped like any data, so they may contain ``<`` or ``&``.

    * ``document_title``: the document's ``<title>`` when the caller gives no title;
    * ``subject``, ``counterparty``, ``external``, ``flagged``: the legend entries; the role
      names are also the sub-label of a node;
    * ``flagged_role`` (``{role}``, ``{flagged}``): the sub-label of a flagged node;
    * ``legend_note`` (``{currency}``): the note after the legend entries;
    * ``edge_label`` (``{amount}``, ``{count}``): the label of an edge of more than one transfer
      (one transfer shows the amount alone);
    * ``route`` (``{source}``, ``{target}``): an edge's first hover line (the node labels);
    * ``edge_flow`` (``{currency}``, ``{amount}``, ``{transfers}``): an edge's second hover line;
    * ``money_in``, ``money_out`` (same placeholders): a node's hover lines for the money it
      received and sent;
    * ``one_transfer``, ``transfers`` (``{count}``): what fills ``{transfers}``, for a count of
      one and for any other count;
    * ``day_range`` (``{first}``, ``{last}``): an edge's days, as ISO dates, when they differ;
    * ``one_more_not_shown``, ``more_not_shown`` (``{count}``): the note when the cap leaves out
      one node and more than one;
    * ``no_accounts``: the note when there is no node at all.
    """

    document_title: str = "Fund flow"
    subject: str = "subject"
    counterparty: str = "counterparty"
    external: str = "external"
    flagged: str = "flagged"
    flagged_role: str = "{role} · {flagged}"
    legend_note: str = (
        "Amounts in {currency} · line width grows with log(amount) · ×N = N transfers"
    )
    edge_label: str = "{amount} ×{count}"
    route: str = "{source} → {target}"
    edge_flow: str = "{currency} {amount} in {transfers}"
    money_in: str = "In: {currency} {amount} in {transfers}"
    money_out: str = "Out: {currency} {amount} in {transfers}"
    one_transfer: str = "{count} transfer"
    transfers: str = "{count} transfers"
    day_range: str = "{first} – {last}"
    one_more_not_shown: str = "{count} more counterparty not shown"
    more_not_shown: str = "{count} more counterparties not shown"
    no_accounts: str = "No accounts to show"

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, str):
                raise TypeError(f"GraphWords.{field.name} must be a str, not {type(value)}")
            allowed = _PLACEHOLDERS.get(field.name)
            if allowed is not None:
                _check_template(field.name, value, allowed)


def _check_template(name: str, template: str, allowed: frozenset[str]) -> None:
    """Refuse a template that could do more than insert the ``allowed`` values as they are."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"GraphWords.{name}: {error} in {template!r}") from None
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in allowed or spec or conversion is not None:
            names = ", ".join(f"{{{n}}}" for n in sorted(allowed))
            raise ValueError(
                f"GraphWords.{name}: only the bare placeholders {names} may be used, "
                f"not {template!r}"
            )


def _role_word(words: GraphWords, role: str) -> str:
    return {
        "subject": words.subject,
        "counterparty": words.counterparty,
        "external": words.external,
    }[role]


@dataclass(frozen=True)
class FlowNode:
    """An account in the case: ``label`` is already masked text (may be Chinese)."""

    key: str
    label: str
    role: str
    flagged: bool = False


@dataclass(frozen=True)
class FlowEdge:
    """Money from ``source`` to ``target`` (node keys): total ``amount_minor`` in ``count``
    transfers between ``first_day`` and ``last_day``."""

    source: str
    target: str
    amount_minor: int
    count: int
    first_day: date
    last_day: date


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


_Point: TypeAlias = tuple[float, float]
_Curve: TypeAlias = tuple[_Point, _Point, _Point, _Point]


@dataclass(frozen=True)
class _Layout:
    boxes: Mapping[str, _Box]
    width: float
    height: float
    body_bottom: float


# --- text -----------------------------------------------------------------------------------


def format_minor_amount(amount_minor: int) -> str:
    """Minor units as major text with thousands separators and 2 decimals: 1234567 → "12,345.67"."""
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 100)
    return f"{sign}{whole:,}.{fraction:02d}"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _text(text: str) -> str:
    return escape(_clean(text))


def _attr(text: str) -> str:
    return quoteattr(_clean(text))


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _char_em(char: str) -> float:
    if unicodedata.combining(char):
        return 0.0
    # Ambiguous-width characters (·, ×, …) are full-width in CJK fonts: counted as wide.
    return 1.0 if unicodedata.east_asian_width(char) in {"W", "F", "A"} else 0.6


def _text_width(text: str, font_px: float) -> float:
    return sum(_char_em(c) for c in text) * font_px


def _fit(text: str, font_px: float, max_px: float) -> str:
    """``text``, or its head and tail around "…" (the tail keeps an account suffix) to fit."""
    if _text_width(text, font_px) <= max_px:
        return text
    budget = max_px - _text_width("…", font_px)
    tail: list[str] = []
    used = 0.0
    for char in reversed(text):
        if used + _char_em(char) * font_px > budget * 0.4:
            break
        tail.append(char)
        used += _char_em(char) * font_px
    head: list[str] = []
    for char in text:
        if used + _char_em(char) * font_px > budget:
            break
        head.append(char)
        used += _char_em(char) * font_px
    return "".join(head).rstrip() + "…" + "".join(reversed(tail)).lstrip()


def _transfers(count: int, words: GraphWords) -> str:
    return (words.one_transfer if count == 1 else words.transfers).format(count=count)


def _days(edge: FlowEdge, words: GraphWords) -> str:
    first, last = edge.first_day.isoformat(), edge.last_day.isoformat()
    return first if first == last else words.day_range.format(first=first, last=last)


# --- validation and preparation -------------------------------------------------------------


def _index_nodes(nodes: Sequence[FlowNode]) -> dict[str, FlowNode]:
    by_key: dict[str, FlowNode] = {}
    for node in nodes:
        if node.role not in ROLES:
            raise ValueError(f"node {node.key!r} has unknown role {node.role!r}")
        if node.key in by_key:
            raise ValueError(f"duplicate node key {node.key!r}")
        by_key[node.key] = node
    return by_key


def _check_edge(edge: FlowEdge, by_key: Mapping[str, FlowNode]) -> None:
    for end in (edge.source, edge.target):
        if end not in by_key:
            raise ValueError(f"edge references unknown node {end!r}")
    if edge.amount_minor < 0:
        raise ValueError(f"edge {edge.source!r} → {edge.target!r} has a negative amount")
    if edge.count < 1:
        raise ValueError(f"edge {edge.source!r} → {edge.target!r} has no transfer")
    if edge.last_day < edge.first_day:
        raise ValueError(f"edge {edge.source!r} → {edge.target!r} ends before it starts")


def _merge(a: FlowEdge, b: FlowEdge) -> FlowEdge:
    return FlowEdge(
        a.source,
        a.target,
        a.amount_minor + b.amount_minor,
        a.count + b.count,
        min(a.first_day, b.first_day),
        max(a.last_day, b.last_day),
    )


def _merge_edges(edges: Sequence[FlowEdge], by_key: Mapping[str, FlowNode]) -> list[FlowEdge]:
    """Validated edges without self-loops, one per (source, target), sorted by that pair."""
    merged: dict[tuple[str, str], FlowEdge] = {}
    for edge in edges:
        _check_edge(edge, by_key)
        if edge.source == edge.target:
            continue
        pair = (edge.source, edge.target)
        merged[pair] = _merge(merged[pair], edge) if pair in merged else edge
    return [merged[pair] for pair in sorted(merged)]


def _total_flow(flows: Iterable[FlowEdge]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for edge in flows:
        for end in (edge.source, edge.target):
            totals[end] = totals.get(end, 0) + edge.amount_minor
    return totals


def _keep(by_key: Mapping[str, FlowNode], flows: Sequence[FlowEdge], max_nodes: int) -> set[str]:
    """Keys kept under the cap: subjects, then flagged nodes, then the largest total flow."""
    if len(by_key) <= max_nodes:
        return set(by_key)
    totals = _total_flow(flows)

    def rank(key: str) -> tuple[bool, bool, int, str]:
        node = by_key[key]
        return (node.role != "subject", not node.flagged, -totals.get(key, 0), key)

    ranked = sorted(by_key, key=rank)
    subjects = sum(1 for node in by_key.values() if node.role == "subject")
    return set(ranked[: max(max_nodes, subjects)])


# --- layering -------------------------------------------------------------------------------


def _reaches(start: str, goal: str, succ: Mapping[str, Iterable[str]]) -> bool:
    """Whether ``goal`` can be reached from ``start`` (iterative search, no recursion limit)."""
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for child in succ[node]:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return False


def _back_edges(keys: Iterable[str], flows: Sequence[FlowEdge]) -> set[tuple[str, str]]:
    """Edges left out so the rest has no cycle: edges are taken largest amount first (ties by
    source, target) and one that would close a cycle is left out, so each cycle is broken at
    one of its smaller flows and the main money stays left to right."""
    succ: dict[str, set[str]] = {key: set() for key in keys}
    back: set[tuple[str, str]] = set()
    for edge in sorted(flows, key=lambda e: (-e.amount_minor, e.source, e.target)):
        if _reaches(edge.target, edge.source, succ):
            back.add((edge.source, edge.target))
        else:
            succ[edge.source].add(edge.target)
    return back


def _longest_path(keys: Sequence[str], dag: Mapping[str, Sequence[str]]) -> dict[str, int]:
    indegree = dict.fromkeys(keys, 0)
    for targets in dag.values():
        for target in targets:
            indegree[target] += 1
    layer = dict.fromkeys(keys, 0)
    ready = [key for key in keys if indegree[key] == 0]
    while ready:
        node = ready.pop()
        for target in dag[node]:
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return layer


def _assign_layers(
    by_key: Mapping[str, FlowNode], flows: Sequence[FlowEdge]
) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Column of each node (0 = left) and the edges drawn backwards to break cycles."""
    keys = sorted(by_key)
    senders = {edge.source for edge in flows}
    receivers = {edge.target for edge in flows}
    back = _back_edges(keys, flows)
    dag: dict[str, list[str]] = {key: [] for key in keys}
    for edge in flows:
        if (edge.source, edge.target) not in back:
            dag[edge.source].append(edge.target)
    layer = _longest_path(keys, dag)
    last = max(layer.values(), default=0)
    for key in keys:
        if key in receivers and key not in senders:
            layer[key] = last
    connected = senders | receivers
    home = min((layer[k] for k in connected if by_key[k].role == "subject"), default=0)
    for key in keys:
        if key not in connected:
            layer[key] = home
    used = sorted(set(layer.values()))
    compact = {old: new for new, old in enumerate(used)}
    return {key: compact[value] for key, value in layer.items()}, back


def _centred_positions(columns: Sequence[Sequence[str]]) -> dict[str, float]:
    return {
        key: index - (len(column) - 1) / 2 for column in columns for index, key in enumerate(column)
    }


def _barycentre(key: str, neighbours: Sequence[str], position: Mapping[str, float]) -> float:
    if not neighbours:
        return position[key]
    return sum(position[n] for n in neighbours) / len(neighbours)


def _order_columns(layer: Mapping[str, int], flows: Sequence[FlowEdge]) -> list[list[str]]:
    """Nodes per column, top to bottom: by key, then barycentre sweeps left↔right."""
    count = max(layer.values(), default=-1) + 1
    columns = [sorted(k for k, v in layer.items() if v == i) for i in range(count)]
    left: dict[str, list[str]] = {key: [] for key in layer}
    right: dict[str, list[str]] = {key: [] for key in layer}
    for edge in flows:
        low, high = sorted((edge.source, edge.target), key=lambda k: layer[k])
        right[low].append(high)
        left[high].append(low)
    for sweep in range(_BARYCENTRE_SWEEPS):
        downward = sweep % 2 == 0
        side = left if downward else right
        for index in range(1, count) if downward else range(count - 2, -1, -1):
            position = _centred_positions(columns)
            columns[index] = sorted(
                columns[index],
                key=lambda k: (_barycentre(k, side[k], position), position[k]),
            )
    return columns


# --- geometry -------------------------------------------------------------------------------


def _node_sub(node: FlowNode, words: GraphWords) -> str:
    role = _role_word(words, node.role)
    return words.flagged_role.format(role=role, flagged=words.flagged) if node.flagged else role


def _node_width(nodes: Iterable[FlowNode], words: GraphWords) -> float:
    widest = max(
        (
            max(_text_width(n.label, _LABEL_FONT), _text_width(_node_sub(n, words), _SUB_FONT))
            for n in nodes
        ),
        default=0.0,
    )
    return min(_MAX_NODE_W, max(_MIN_NODE_W, math.ceil(widest) + 2 * _NODE_PAD))


def _header_height(title: str) -> float:
    return _MARGIN + (_TITLE_FONT + 12 if title else 0) + _LEGEND_FONT + 18


def _header_width(title: str, currency_label: str, words: GraphWords) -> float:
    swatches = sum(_swatch_width(name) for name, _ in _legend_swatches(words))
    legend = swatches + _text_width(_legend_note(currency_label, words), _LEGEND_FONT)
    return 2 * _MARGIN + max(_text_width(title, _TITLE_FONT), legend)


def _layout(
    columns: Sequence[Sequence[str]],
    by_key: Mapping[str, FlowNode],
    title: str,
    currency_label: str,
    has_back_edges: bool,
    *,
    words: GraphWords,
) -> _Layout:
    node_w = _node_width((by_key[k] for column in columns for k in column), words)
    rows = max((len(column) for column in columns), default=0)
    pitch = _NODE_H + _ROW_GAP
    content_w = len(columns) * node_w + max(len(columns) - 1, 0) * _COL_GAP
    header_w = _header_width(title, currency_label, words)
    width = max(_MIN_CANVAS_W, content_w + 2 * _MARGIN, header_w)
    left = (width - content_w) / 2
    top = _header_height(title)
    boxes: dict[str, _Box] = {}
    for col, column in enumerate(columns):
        offset = (rows - len(column)) * pitch / 2
        for row, key in enumerate(column):
            x = left + col * (node_w + _COL_GAP)
            boxes[key] = _Box(x, top + offset + row * pitch, node_w, _NODE_H)
    body_bottom = top + max(rows * pitch - _ROW_GAP, 0) + (_BACK_BOW if has_back_edges else 0)
    return _Layout(boxes, width, body_bottom + _MARGIN + _LEGEND_FONT + 8, body_bottom)


def _stroke_width(amount_minor: int) -> float:
    """Edge width on a log scale of the amount, clamped to 1–8 px."""
    if amount_minor <= 0:
        return _MIN_STROKE
    span = (math.log10(amount_minor) - _STROKE_LOG_LOW) / (_STROKE_LOG_HIGH - _STROKE_LOG_LOW)
    width = _MIN_STROKE + span * (_MAX_STROKE - _MIN_STROKE)
    return round(min(_MAX_STROKE, max(_MIN_STROKE, width)), 1)


def _arrow_size(stroke: float) -> int:
    return 8 + math.ceil(stroke * 1.5)


def _curve(src: _Box, dst: _Box, backward: bool) -> _Curve:
    if backward:
        start = (src.x, src.cy + _BACK_OFFSET)
        end = (dst.right, dst.cy + _BACK_OFFSET)
        return (
            start,
            (start[0] - _BACK_REACH, start[1] + _BACK_BOW),
            (end[0] + _BACK_REACH, end[1] + _BACK_BOW),
            end,
        )
    start, end = (src.right, src.cy), (dst.x, dst.cy)
    middle = (start[0] + end[0]) / 2
    return start, (middle, start[1]), (middle, end[1]), end


def _at(curve: _Curve, t: float) -> _Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
    return a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3


def _t_at_x(curve: _Curve, x: float) -> float:
    """Parameter where a left-to-right curve (monotone in x) reaches ``x``."""
    low, high = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if _at(curve, middle)[0] < x:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _shorten(curve: _Curve, length: float) -> _Curve:
    """The curve ending ``length`` px earlier along its final tangent (room for the arrowhead)."""
    start, c1, c2, end = curve
    dx, dy = end[0] - c2[0], end[1] - c2[1]
    norm = math.hypot(dx, dy) or 1.0
    new_end = (end[0] - dx / norm * length, end[1] - dy / norm * length)
    new_c2 = (c2[0] - dx / norm * length, c2[1] - dy / norm * length)
    return start, c1, new_c2, new_end


def _label_point(curve: _Curve, src: _Box, backward: bool) -> _Point:
    """Backward edges: the curve's middle; others: where it crosses the gap after the source."""
    if backward:
        return _at(curve, 0.5)
    return _at(curve, _t_at_x(curve, src.right + _COL_GAP / 2))


# --- SVG ------------------------------------------------------------------------------------


def _marker_id(flagged: bool, size: int) -> str:
    return f"ff-arrow-{'flagged' if flagged else 'plain'}-{size}"


def _marker(flagged: bool, size: int) -> str:
    colour = _FLAGGED_EDGE if flagged else _EDGE
    return (
        f'<marker id="{_marker_id(flagged, size)}" viewBox="0 0 10 10" refX="0" refY="5" '
        f'markerWidth="{size}" markerHeight="{size}" markerUnits="userSpaceOnUse" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
    )


def _path_d(curve: _Curve) -> str:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    return (
        f"M{_num(x0)},{_num(y0)} C{_num(x1)},{_num(y1)} {_num(x2)},{_num(y2)} {_num(x3)},{_num(y3)}"
    )


def _edge_label(edge: FlowEdge, words: GraphWords) -> str:
    amount = format_minor_amount(edge.amount_minor)
    return words.edge_label.format(amount=amount, count=edge.count) if edge.count > 1 else amount


def _edge_hover(
    edge: FlowEdge, by_key: Mapping[str, FlowNode], currency_label: str, words: GraphWords
) -> str:
    route = words.route.format(source=by_key[edge.source].label, target=by_key[edge.target].label)
    flow = words.edge_flow.format(
        currency=currency_label,
        amount=format_minor_amount(edge.amount_minor),
        transfers=_transfers(edge.count, words),
    )
    return f"{route}\n{flow}\n{_days(edge, words)}"


def _edge_flagged(edge: FlowEdge, by_key: Mapping[str, FlowNode]) -> bool:
    return by_key[edge.source].flagged and by_key[edge.target].flagged


def _svg_edges(
    flows: Sequence[FlowEdge],
    by_key: Mapping[str, FlowNode],
    layout: _Layout,
    back: set[tuple[str, str]],
    currency_label: str,
    *,
    words: GraphWords,
) -> tuple[list[str], list[str], set[tuple[bool, int]]]:
    """Edge groups, label groups (drawn above every edge) and the arrowheads they use."""
    paths: list[str] = []
    labels: list[str] = []
    markers: set[tuple[bool, int]] = set()
    for edge in sorted(flows, key=lambda e: (e.amount_minor, e.source, e.target)):
        src, dst = layout.boxes[edge.source], layout.boxes[edge.target]
        backward = (edge.source, edge.target) in back or dst.x < src.x
        flagged = _edge_flagged(edge, by_key)
        stroke = _stroke_width(edge.amount_minor)
        size = _arrow_size(stroke)
        markers.add((flagged, size))
        curve = _curve(src, dst, backward)
        hover = f"<title>{_text(_edge_hover(edge, by_key, currency_label, words))}</title>"
        paths.append(
            f'<g class="edge" data-flagged="{str(flagged).lower()}">{hover}'
            f'<path d="{_path_d(_shorten(curve, size))}" fill="none" '
            f'stroke="{_FLAGGED_EDGE if flagged else _EDGE}" stroke-width="{_num(stroke)}" '
            f'stroke-opacity="0.8" marker-end="url(#{_marker_id(flagged, size)})"/></g>'
        )
        point = _label_point(curve, src, backward)
        labels.append(_svg_edge_label(_edge_label(edge, words), point, hover))
    return paths, labels, markers


def _svg_edge_label(text: str, point: _Point, hover: str) -> str:
    """The amount on a white plate, so crossing lines never run through its digits."""
    x, y = point
    width = _text_width(text, _EDGE_FONT) + 8
    height = _EDGE_FONT + 6
    return (
        f'<g class="edge-label">{hover}'
        f'<rect x="{_num(x - width / 2)}" y="{_num(y - height / 2)}" width="{_num(width)}" '
        f'height="{_num(height)}" rx="3" fill="{_PAPER}" fill-opacity="0.9"/>'
        f'<text x="{_num(x)}" y="{_num(y + _EDGE_FONT * 0.35)}" text-anchor="middle" '
        f'font-size="{_EDGE_FONT}" fill="{_INK}">{_text(text)}</text></g>'
    )


def _node_hover(
    node: FlowNode, flows: Sequence[FlowEdge], currency_label: str, words: GraphWords
) -> str:
    incoming = [e for e in flows if e.target == node.key]
    outgoing = [e for e in flows if e.source == node.key]
    lines = [node.label, _node_sub(node, words)]
    for template, group in ((words.money_in, incoming), (words.money_out, outgoing)):
        if group:
            total = format_minor_amount(sum(e.amount_minor for e in group))
            count = _transfers(sum(e.count for e in group), words)
            lines.append(template.format(currency=currency_label, amount=total, transfers=count))
    return "\n".join(lines)


def _node_style(node: FlowNode) -> _Style:
    style = _ROLE_STYLE[node.role]
    if not node.flagged:
        return style
    fill = style.fill if node.role == "subject" else _FLAGGED_FILL
    return _Style(fill, _FLAGGED_STROKE, max(style.stroke_width, 2.0), style.dash)


def _svg_node(
    node: FlowNode,
    box: _Box,
    flows: Sequence[FlowEdge],
    currency_label: str,
    words: GraphWords,
) -> str:
    style = _node_style(node)
    dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
    label = _fit(node.label, _LABEL_FONT, box.w - 2 * _NODE_PAD)
    sub = _fit(_node_sub(node, words), _SUB_FONT, box.w - 2 * _NODE_PAD)
    weight = "700" if node.role == "subject" else "500"
    centre = _num(box.x + box.w / 2)
    return (
        f'<g class="node" data-role="{node.role}" data-flagged="{str(node.flagged).lower()}">'
        f"<title>{_text(_node_hover(node, flows, currency_label, words))}</title>"
        f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" '
        f'height="{_num(box.h)}" rx="6" fill="{style.fill}" stroke="{style.stroke}" '
        f'stroke-width="{_num(style.stroke_width)}"{dash}/>'
        f'<text class="node-label" x="{centre}" y="{_num(box.y + 20)}" text-anchor="middle" '
        f'font-size="{_LABEL_FONT}" font-weight="{weight}" fill="{_INK}">{_text(label)}</text>'
        f'<text class="node-role" x="{centre}" y="{_num(box.y + 37)}" text-anchor="middle" '
        f'font-size="{_SUB_FONT}" fill="{_MUTED}">{_text(sub)}</text></g>'
    )


def _swatch_width(name: str) -> float:
    return 24 + _text_width(name, _LEGEND_FONT) + 16


def _legend_note(currency_label: str, words: GraphWords) -> str:
    return words.legend_note.format(currency=currency_label)


def _legend_swatches(words: GraphWords) -> list[tuple[str, _Style]]:
    roles = [(_role_word(words, role), style) for role, style in _ROLE_STYLE.items()]
    return [*roles, (words.flagged, _Style(_FLAGGED_FILL, _FLAGGED_STROKE, 2.0))]


def _svg_legend(title: str, currency_label: str, words: GraphWords) -> list[str]:
    parts: list[str] = []
    y = _MARGIN
    if title:
        y += _TITLE_FONT
        parts.append(
            f'<text class="title" x="{_MARGIN}" y="{y}" font-size="{_TITLE_FONT}" '
            f'font-weight="700" fill="{_INK}">{_text(title)}</text>'
        )
        y += 12
    y += _LEGEND_FONT
    x = float(_MARGIN)
    for name, style in _legend_swatches(words):
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        parts.append(
            f'<rect x="{_num(x)}" y="{y - 10}" width="18" height="12" rx="3" fill="{style.fill}" '
            f'stroke="{style.stroke}" stroke-width="{_num(style.stroke_width)}"{dash}/>'
            f'<text x="{_num(x + 24)}" y="{y}" font-size="{_LEGEND_FONT}" '
            f'fill="{_MUTED}">{_text(name)}</text>'
        )
        x += _swatch_width(name)
    parts.append(
        f'<text class="legend-note" x="{_num(x)}" y="{y}" font-size="{_LEGEND_FONT}" '
        f'fill="{_MUTED}">{_text(_legend_note(currency_label, words))}</text>'
    )
    return ['<g class="legend">', *parts, "</g>"]


def _svg_note(hidden: int, layout: _Layout, empty: bool, words: GraphWords) -> list[str]:
    if empty:
        text = words.no_accounts
    elif hidden:
        template = words.one_more_not_shown if hidden == 1 else words.more_not_shown
        text = template.format(count=hidden)
    else:
        return []
    y = layout.body_bottom + _MARGIN
    return [
        f'<text class="note" x="{_MARGIN}" y="{_num(y)}" font-size="{_LEGEND_FONT + 1}" '
        f'font-style="italic" fill="{_MUTED}">{_text(text)}</text>'
    ]


def render_fund_flow(
    nodes: Sequence[FlowNode],
    edges: Sequence[FlowEdge],
    *,
    currency_label: str = "CNY",
    title: str = "",
    max_nodes: int = 60,
    words: GraphWords = GraphWords(),
) -> str:
    """A standalone SVG document of the fund flows between ``nodes`` (see the module docstring).

    Every word drawn or shown on hover comes from ``words`` (English by default).

    Raises :class:`ValueError` for an edge naming an unknown node, a duplicate node key, an
    unknown role, a negative amount, a count below 1, a last day before the first, or
    ``max_nodes`` below 1.
    """
    if max_nodes < 1:
        raise ValueError("max_nodes must be at least 1")
    all_nodes = _index_nodes(nodes)
    all_flows = _merge_edges(edges, all_nodes)
    kept = _keep(all_nodes, all_flows, max_nodes)
    by_key = {key: node for key, node in all_nodes.items() if key in kept}
    flows = [e for e in all_flows if e.source in kept and e.target in kept]
    layer, back = _assign_layers(by_key, flows)
    columns = _order_columns(layer, flows)
    layout = _layout(columns, by_key, title, currency_label, bool(back), words=words)
    paths, labels, markers = _svg_edges(flows, by_key, layout, back, currency_label, words=words)
    node_parts = [
        _svg_node(by_key[k], layout.boxes[k], flows, currency_label, words)
        for column in columns
        for k in column
    ]
    doc_title = title or words.document_title
    return "\n".join(
        [
            f'<svg xmlns="{SVG_NS}" viewBox="0 0 {_num(layout.width)} {_num(layout.height)}" '
            f'width="{_num(layout.width)}" height="{_num(layout.height)}" role="img" '
            f"font-family={_attr(_FONT_FAMILY)}>",
            f"<title>{_text(doc_title)}</title>",
            "<defs>",
            *(_marker(flagged, size) for flagged, size in sorted(markers)),
            "</defs>",
            f'<rect class="background" width="100%" height="100%" fill="{_PAPER}"/>',
            *_svg_legend(title, currency_label, words),
            '<g class="edges">',
            *paths,
            "</g>",
            '<g class="nodes">',
            *node_parts,
            "</g>",
            '<g class="edge-labels">',
            *labels,
            "</g>",
            *_svg_note(len(all_nodes) - len(by_key), layout, not all_nodes, words),
            "</svg>",
            "",
        ]
    )
