"""The faults real exports have, injected at documented, configurable rates.

Each class corrupts a share of a file's rows (``DEFECT_RATES``, multiplied by the
generator's ``--defect-scale``; 0 writes clean files).  Rows are drawn without replacement
across classes, so one row carries at most one defect and a duplicated row is never also
corrupted.  Every corrupted row, line or file is recorded for the ground truth with how the
warehouse is expected to handle it (``HANDLING``): ``reject`` (quarantined with a reason),
``dedup`` (removed as a duplicate), ``repair`` (a documented fix) or ``keep`` (valid as is).
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from dataclasses import dataclass

import numpy as np

from ml.synth.exports import ExportTable

DEFECT_RATES: dict[str, float] = {
    "duplicate_exact": 0.004,  # the same row twice
    "duplicate_reexport": 0.006,  # an earlier, preliminary extraction of the same ad-day
    "missing_key": 0.001,  # empty ad id
    "missing_metric": 0.002,  # empty spend or impressions
    "missing_optional": 0.003,  # empty conversions / actions / value / likes
    "number_as_text": 0.005,  # "$1,234.56", "1,234 USD", "12,345"
    "mixed_date_format": 0.005,  # 08/01/2026, 2026/08/01, 1 Aug 2026
    "negative_spend": 0.001,
    "clicks_gt_impressions": 0.001,
    "conversions_gt_clicks": 0.001,
    "extreme_outlier": 0.001,  # spend x 1000 (a tracking glitch)
    "truncated_line": 0.001,  # CSV line cut after 4 fields; JSON line cut in half
    "extra_field": 0.001,  # a stray trailing field
    "invalid_utf8": 0.001,  # a 0xFF byte in the id
    "end_before_start": 0.01,  # campaign end date before its start
    "messy_text": 0.05,  # HTML entities, repeated / odd whitespace, decomposed accents
    "text_kept": 0.03,  # upper case, extra emoji, other scripts: valid copy, kept as is
}

# defect -> (handling, warehouse reason code)
HANDLING: dict[str, tuple[str, str]] = {
    "duplicate_exact": ("dedup", "duplicate"),
    "duplicate_reexport": ("dedup", "duplicate"),
    "missing_key": ("reject", "missing_key"),
    "missing_metric": ("reject", "missing_metric"),
    "missing_optional": ("repair", "default_zero"),
    "number_as_text": ("repair", "number_parsed"),
    "mixed_date_format": ("repair", "date_parsed"),
    "negative_spend": ("reject", "negative_value"),
    "clicks_gt_impressions": ("reject", "clicks_gt_impressions"),
    "conversions_gt_clicks": ("reject", "conversions_gt_clicks"),
    "extreme_outlier": ("reject", "outlier_cpm"),
    "truncated_line": ("reject", "malformed_line"),
    "extra_field": ("reject", "malformed_line"),
    "invalid_utf8": ("reject", "invalid_encoding"),
    "end_before_start": ("repair", "end_date_nulled"),
    "messy_text": ("repair", "text_normalized"),
    "text_kept": ("keep", "text_kept"),
    "empty_file": ("reject", "empty_file"),
}

_ROW_CLASSES = [c for c in DEFECT_RATES if c not in ("truncated_line", "extra_field", "invalid_utf8")]
_LINE_CLASSES = ["truncated_line", "extra_field", "invalid_utf8"]


@dataclass(frozen=True)
class Defect:
    source: str
    file: str
    line: int | None  # physical line in the written file (1-based, header included)
    key: str
    defect: str
    daily_row: int | None
    expected: str = ""  # for repairs of text: the clean value the warehouse should recover

    @property
    def handling(self) -> str:
        return HANDLING[self.defect][0]

    @property
    def reason(self) -> str:
        return HANDLING[self.defect][1]


def _applies(table: ExportTable, defect: str) -> bool:
    r, perf = table.roles, table.daily_row is not None
    return {
        "duplicate_exact": perf,
        "duplicate_reexport": perf and "extracted_at" in r,
        "missing_key": perf,
        "missing_metric": perf and "spend" in r,
        "missing_optional": perf and "optional" in r,
        "number_as_text": perf and "spend" in r,
        "mixed_date_format": perf and "date" in r,
        "negative_spend": perf and "spend" in r,
        "clicks_gt_impressions": perf and "clicks" in r,
        "conversions_gt_clicks": perf and "conversions" in r,
        "extreme_outlier": perf and "spend" in r,
        "truncated_line": perf,
        "extra_field": perf and not table.is_jsonl,
        "invalid_utf8": perf,
        "end_before_start": "end" in r,
        "messy_text": "text" in r,
        "text_kept": "text" in r,
    }[defect]


def _number_as_text(value: str, rng: np.random.Generator, money: bool) -> str:
    whole, _, frac = value.partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    if not money:
        # Below 1,000 there is no separator to add: pad it, so the cell really is text to
        # parse (the ground truth records a repair), without another draw from the stream.
        return grouped if grouped != value else f" {grouped} "
    return str(rng.choice([f"${grouped}", f"{grouped} USD", f" {grouped} "]))


def _date_text(value: str, rng: np.random.Generator) -> str:
    y, m, d = value[:10].split("-")
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return str(rng.choice([f"{m}/{d}/{y}", f"{y}/{m}/{d}", f"{int(d)} {months[int(m) - 1]} {y}"]))


def _messy(text: str, rng: np.random.Generator) -> str:
    """Corruptions that text normalisation undoes exactly (unescape, NFC, whitespace)."""
    out = html.escape(text, quote=True)  # & < > " ' as entities
    out = out.replace(" ", str(rng.choice(["  ", " \t", "&nbsp;", " \n "])), 2)
    out = unicodedata.normalize("NFD", out)
    return f"  {out} " if rng.random() < 0.5 else out


def _kept(text: str, rng: np.random.Generator) -> str:
    """Valid copy that only looks unusual: kept verbatim by the warehouse."""
    kind = rng.integers(3)
    if kind == 0:
        return text.upper()
    if kind == 1:
        return f"{text} 🔥🔥"
    return f"{text} 限时优惠"


def inject(table: ExportTable, rng: np.random.Generator, scale: float) -> tuple[list[bytes], list[Defect]]:
    """Corrupt a table at ``DEFECT_RATES x scale``; returns its lines and the defects made."""
    rows = [list(r) for r in table.rows]
    n = len(rows)
    daily = table.daily_row
    key_col = table.col("key")
    counts = {
        c: round(DEFECT_RATES[c] * scale * n) if _applies(table, c) else 0
        for c in _ROW_CLASSES + _LINE_CLASSES
    }
    order = rng.permutation(n)
    chosen: dict[str, np.ndarray] = {}
    start = 0
    for c, k in counts.items():
        chosen[c] = np.sort(order[start : start + k])
        start += k
    if start > n:
        raise ValueError(f"defect rates x scale exceed the rows of {table.path}")

    money = table.money_scale == 1
    extra_rows: list[tuple[int, int, list[str], str]] = []  # (after row, of row, cells, defect)
    row_defect: dict[int, str] = {}
    for c in _ROW_CLASSES:
        for i in chosen[c]:
            row = rows[i]
            if c == "duplicate_exact":
                extra_rows.append((int(rng.integers(i, n)), int(i), list(row), c))
                continue
            if c == "duplicate_reexport":
                # An earlier, preliminary pull of the same ad-day: 10% less delivery at the same
                # CPM on busy days (so keeping the wrong one would show), identical otherwise.
                early = list(row)
                impressions = int(row[table.col("impressions")]) if "impressions" in table.roles else 0
                if impressions >= 1000:
                    early[table.col("impressions")] = str(impressions * 9 // 10)
                    spend = float(row[table.col("spend")]) * 0.9
                    early[table.col("spend")] = (
                        f"{spend:.2f}" if money else str(int(spend // 10_000 * 10_000))
                    )
                stamp = dt.datetime.strptime(row[table.col("extracted_at")], "%Y-%m-%dT%H:%M:%SZ")
                early[table.col("extracted_at")] = (stamp - dt.timedelta(days=2)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                extra_rows.append((int(rng.integers(0, i + 1)), int(i), early, c))
                continue
            row_defect[int(i)] = c
            if c == "missing_key":
                row[key_col] = ""
            elif c == "missing_metric":
                row[table.col(str(rng.choice(["spend", "impressions"])))] = ""
            elif c == "missing_optional":
                row[table.col("optional")] = ""
            elif c == "number_as_text":
                role = str(rng.choice(["spend", "impressions"]))
                row[table.col(role)] = _number_as_text(row[table.col(role)], rng, money and role == "spend")
            elif c == "mixed_date_format":
                row[table.col("date")] = _date_text(row[table.col("date")], rng)
            elif c == "negative_spend":
                spend = row[table.col("spend")]
                row[table.col("spend")] = "-" + (spend if float(spend) > 0 else "1" + "0" * 6 * (not money))
            elif c == "clicks_gt_impressions":
                row[table.col("clicks")] = str(int(row[table.col("impressions")]) + 1 + int(rng.integers(50)))
            elif c == "conversions_gt_clicks":
                value = int(float(row[table.col("clicks")])) + 1 + int(rng.integers(5))
                row[table.col("conversions")] = (
                    f"{value}.0" if "." in row[table.col("conversions")] else str(value)
                )
            elif c == "extreme_outlier":
                # A tracking glitch: spend x 1000 (spend on a day without impressions when
                # the ad delivered nothing).  Either way the CPM is absurd.
                spend = float(row[table.col("spend")]) / table.money_scale
                scaled = max(spend, 0.01) * 1000
                row[table.col("spend")] = f"{scaled:.2f}" if money else str(round(scaled * 1e6))
            elif c == "end_before_start":
                row[table.col("end")] = _shift_back(row[table.col("start")], 1 + int(rng.integers(10)))
            elif c == "messy_text":
                for col in ("headline", table.roles["text"]):
                    row[table.col(col)] = _messy(row[table.col(col)], rng)
            elif c == "text_kept":
                row[table.col("headline")] = _kept(row[table.col("headline")], rng)

    # Assemble in file order: each extra row goes after the row it was drawn against.
    after: dict[int, list[tuple[int, list[str], str | None]]] = {}
    for pos, of_row, cells, c in extra_rows:
        after.setdefault(pos, []).append((of_row, cells, c))
    sequence: list[tuple[int, list[str], str | None]] = []  # (row it reports, cells, defect)
    for i in range(n):
        sequence.append((i, rows[i], row_defect.get(i)))
        sequence.extend(after.get(i, []))

    line_defect = {int(i): c for c in _LINE_CLASSES for i in chosen[c]}
    first_line = 1 if table.is_jsonl else 2
    lines: list[bytes] = []
    defects: list[Defect] = []
    for position, (i, cells, kind) in enumerate(sequence):
        line = table.line_of(cells)
        if kind not in ("duplicate_exact", "duplicate_reexport"):
            lc = line_defect.get(i)
            if lc is not None:
                line, kind = _corrupt_line(line, cells, table, lc, rng), lc
        lines.append(line)
        if kind is not None:
            expected = ""
            if kind == "messy_text":
                expected = (
                    table.rows[i][table.col("headline")]
                    + "\n"
                    + table.rows[i][table.col(table.roles["text"])]
                )
            defects.append(
                Defect(
                    table.source,
                    table.path,
                    first_line + position,
                    table.rows[i][key_col],
                    kind,
                    None if daily is None else int(daily[i]),
                    expected,
                )
            )
    return lines, defects


def _corrupt_line(
    line: bytes, cells: list[str], table: ExportTable, defect: str, rng: np.random.Generator
) -> bytes:
    if defect == "truncated_line":
        if table.is_jsonl:
            return line[: len(line) // 2]
        return table.line_of(cells[:4])
    if defect == "extra_field":
        return line + b",unexpected"
    key = cells[table.col("key")].encode()
    return line.replace(key, key[:3] + b"\xff" + key[3:], 1)


def _shift_back(date: str, days: int) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=days)).isoformat()
