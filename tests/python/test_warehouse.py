"""The warehouse layer against the generator's ground truth: quarantine, repairs, gate."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ml.synth.__main__ import generate
from tests.python.conftest import REPO, SMALL, Warehouse, make_warehouse

pytestmark = pytest.mark.integration


def query(wh: Warehouse, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        return con.execute(sql).df()


def defects(wh: Warehouse) -> pd.DataFrame:
    return pd.read_csv(
        wh.truth / "defects.csv",
        dtype={"key": str, "expected": str, "ad_id": str, "performance_date": str},
    )


def test_every_source_reconciles(built: Warehouse) -> None:
    rec = query(built, "select * from audit.source_reconciliation")
    assert len(rec) == 9 and rec.is_reconciled.all()
    assert query(built, "select * from audit.assert_every_raw_file_is_read").empty  # no file skipped
    assert (rec.raw_rows == rec.clean_rows + rec.rejected_rows + rec.removed_duplicates).all()
    # Raw rows are what the generator wrote: data lines of every file.
    truth = defects(built)
    for source, path in (
        ("meta_ads.ads_insights", "meta/ads_insights.csv"),
        ("tiktok_ads.ad_report", "tiktok/ad_report.jsonl"),
    ):
        lines = (built.raw / path).read_bytes().count(b"\n") - path.endswith(".csv")
        assert rec.set_index("source_name").raw_rows[source] == lines
    assert (truth.handling == "reject").sum() > 0


def test_quarantine_matches_the_injected_defects(built: Warehouse) -> None:
    """Each rejecting defect is in audit.rejected_rows with its reason, and nothing else is."""
    truth = defects(built)
    expected = truth[truth.handling == "reject"].groupby(["source", "reason"]).size()
    rejected = (
        query(
            built,
            "select source_name, reason_code, count(*) as n from audit.rejected_rows "
            "where reason_code <> 'no_clean_delivery' group by all",  # a consequence: next test
        )
        .set_index(["source_name", "reason_code"])
        .n
    )
    rejected.index.names = expected.index.names
    pd.testing.assert_series_equal(rejected.sort_index(), expected.sort_index(), check_names=False)

    # Reader rejects are exactly the corrupted lines (by file and line number).
    line_classes = ["truncated_line", "extra_field", "invalid_utf8"]
    want = truth[truth.defect.isin(line_classes) & truth.file.str.endswith(".csv")]
    got = query(
        built,
        "select source_file, source_row_id from audit.rejected_rows "
        "where reason_code in ('malformed_line', 'invalid_encoding') "
        "and source_file like '%.csv'",
    )
    got_lines = {(Path(f).relative_to(built.raw).as_posix(), int(n)) for f, n in got.values}
    assert got_lines == {(f, int(n)) for f, n in want[["file", "line"]].values}

    # Rule rejects are exactly the corrupted rows (by source and native key).
    rule = query(
        built,
        "select source_name, source_row_id from audit.rejected_rows where reason_code in "
        "('missing_metric', 'negative_value', 'clicks_gt_impressions', "
        "'conversions_gt_clicks', 'outlier_cpm')",
    )
    got_keys = sorted((s, r.split("|")[0].split(":", 1)[1]) for s, r in rule.values)
    want_rule = truth[
        truth.reason.isin(
            [
                "missing_metric",
                "negative_value",
                "clicks_gt_impressions",
                "conversions_gt_clicks",
                "outlier_cpm",
            ]
        )
    ]
    assert got_keys == sorted(zip(want_rule.source, want_rule.key, strict=True))

    # A rule reject keeps its whole parsed row (a JSON object naming the ad), in every source.
    kept = query(
        built,
        "select source_name, source_row_id, raw_content from audit.rejected_rows "
        "where reason_code not in ('malformed_line', 'invalid_encoding', 'empty_file') "
        "and source_name <> 'adops.creatives'",
    )
    assert {"conversions.offline_conversions", "meta_ads.ads_insights"} <= set(kept.source_name)
    for source, row_id, content in kept.values:
        record = json.loads(content)
        assert isinstance(record, dict) and "ad_id" in record, (source, content)
        assert record["ad_id"] is None or row_id.split("|")[0] == record["ad_id"], (source, row_id, content)


def test_feed_rows_without_clean_delivery_are_quarantined(built: Warehouse) -> None:
    """A clean feed row whose ad-day has no clean delivery row cannot be joined to delivery:
    it is quarantined (no_clean_delivery), not counted clean, and its ad's delivery export
    really has a rejected row (ground truth)."""
    feed = query(
        built,
        "select ad_id, performance_date from intermediate.int_offline_conversions_validated "
        "where rejection_reason is null and not is_superseded",
    )
    ad_days = query(built, "select ad_id, performance_date from intermediate.int_ad_daily_performance_joined")
    merged = feed.merge(ad_days, how="left", indicator=True)
    unmatched = merged[merged._merge == "left_only"]
    assert len(unmatched) > 0
    outcomes = (
        query(
            built,
            "select outcome, sum(n_rows) as n from audit.raw_row_outcomes "
            "where source_name = 'conversions.offline_conversions' group by all",
        )
        .set_index("outcome")
        .n
    )
    assert outcomes["clean"] == len(merged) - len(unmatched)
    assert outcomes["no_clean_delivery"] == len(unmatched)
    quarantined = query(
        built,
        "select raw_content from audit.rejected_rows where reason_code = 'no_clean_delivery'",
    ).raw_content.map(json.loads)
    assert sorted((r["ad_id"], r["performance_date"]) for r in quarantined) == sorted(
        (a, d.date().isoformat()) for a, d in unmatched[["ad_id", "performance_date"]].values
    )
    # Each one's ad-day really lost a delivery row to a defect (ground truth, ad-day by ad-day).
    truth = defects(built)
    delivery = ("meta_ads.", "google_ads.", "tiktok_ads.", "pinterest_ads.")
    rejected = truth[(truth.handling == "reject") & truth.source.str.startswith(delivery)]
    rows = rejected.dropna(subset=["ad_id"])
    rejected_ad_days = set(zip(rows.ad_id, rows.performance_date, strict=True))
    lost = {(a, d.date().isoformat()) for a, d in unmatched[["ad_id", "performance_date"]].values}
    assert lost <= rejected_ad_days, sorted(lost - rejected_ad_days)[:5]


def test_a_quote_left_open_or_a_header_inside_a_file_fails_the_build(
    built: Warehouse, tmp_path: Path
) -> None:
    """`"USD` in one cell makes the CSV reader read the rest of the file as that field: one
    rejected line, the rows after it never read, and the reconciliation none the wiser
    (raw = parsed + rejected).  A second export appended to a file with its columns in another
    order is read in the first order.  The build must fail on both, naming file and line/row.
    A file no source's glob reads (`.CSV`) is named in a warning."""
    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    meta = raw / "meta" / "ads_insights.csv"
    text = meta.read_text(encoding="utf-8", errors="surrogateescape")
    header, *rows = csv.reader(io.StringIO(text))
    assert text.endswith("\n")
    swapped = [[r[1], r[0], *r[2:]] for r in rows[-200:] if len(r) == len(header)][:40]
    appended = io.StringIO()
    csv.writer(appended, lineterminator="\n").writerows([[header[1], header[0], *header[2:]], *swapped])
    meta.write_text(text + appended.getvalue(), encoding="utf-8", errors="surrogateescape")
    export = raw / "google_ads" / "ad_group_ad_performance.csv"
    lines = export.read_bytes().split(b"\n")
    at = next(
        i for i in range(len(lines) // 2, len(lines)) if lines[i].count(b",") == 11 and b",USD," in lines[i]
    )
    lines[at] = lines[at].replace(b",USD,", b',"USD,', 1)
    export.write_bytes(b"\n".join(lines))
    pinterest = next((raw / "pinterest").glob("*.csv"))
    shutil.copy(pinterest, pinterest.with_name("ad_analytics_20261001.CSV"))  # read by no glob
    wh = built.with_raw(tmp_path / "open_quote", raw)
    result = wh.dbt_build()
    assert result.returncode != 0
    unread = query(wh, "select unread_file from audit.assert_every_raw_file_is_read").unread_file
    assert unread.tolist() == [str(pinterest.with_name("ad_analytics_20261001.CSV"))]
    assert "assert_no_rejected_line_runs_into_the_next" in result.stdout
    failures = query(wh, "select * from audit.assert_no_rejected_line_runs_into_the_next")
    assert failures[["source_file", "line_number"]].values.tolist() == [[str(export), str(at + 1)]]
    assert failures.n_lines[0] > 1 or failures.n_characters[0] >= 10000
    assert "assert_no_header_line_inside_a_file" in result.stdout
    headers = query(wh, "select source_file, texts from audit.assert_no_header_line_inside_a_file")
    assert headers.source_file.tolist() == [str(meta)]
    assert {"impressions", "clicks", "spend"} <= set(headers.texts[0])


def test_adops_exports_that_go_wrong_fail_or_warn_naming_the_cell(built: Warehouse, tmp_path: Path) -> None:
    """The ad-ops configuration as spreadsheets mangle it.  Valid CSV from Excel on Windows
    (CRLF rows, a bare LF in a quoted cell) builds; `N/A` for an advertiser is no advertiser
    (it used to merge two advertisers into one called N/A); a line the reader rejects, a header
    line inside a file and a campaign delivered in two files fail naming file and line or key;
    a creative's `24.3%` warns with its raw text instead of turning NULL without a word."""
    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    adops = raw / "adops"
    campaigns = list(csv.reader(io.StringIO((adops / "campaigns.csv").read_text(encoding="utf-8"))))
    head = campaigns[0]
    campaigns[1][head.index("advertiser_id")] = "N/A"
    campaigns[2][head.index("campaign_name")] += "\nQ4 push"  # a line break typed in the cell
    excel = io.StringIO()
    csv.writer(excel, lineterminator="\r\n").writerows(campaigns)
    (adops / "campaigns.csv").write_bytes(excel.getvalue().encode())
    redelivered = adops / "campaigns_2026-11-05.csv"
    with redelivered.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows([head, campaigns[3]])
    ad_sets = (adops / "ad_sets.csv").read_text(encoding="utf-8").split("\n")
    ad_sets[5] += ",stray"  # one field too many
    (adops / "ad_sets.csv").write_text("\n".join(ad_sets), encoding="utf-8")
    ads = (adops / "ads.csv").read_text(encoding="utf-8").split("\n")
    ads.insert(7, ads[0])  # a second export appended with `cat`
    (adops / "ads.csv").write_text("\n".join(ads), encoding="utf-8")
    creatives = (adops / "creatives.jsonl").read_text(encoding="utf-8").split("\n")
    first = json.loads(creatives[0])
    first["image"]["text_overlay_pct"] = "24.3%"
    creatives[0] = json.dumps(first)
    (adops / "creatives.jsonl").write_text("\n".join(creatives), encoding="utf-8")

    wh = built.with_raw(tmp_path / "adops", raw)
    result = wh.dbt_build()
    assert result.returncode != 0
    assert "Runtime Error" not in result.stdout, result.stdout[-3000:]
    bad_campaign = f"{campaigns[1][0].lower()}:{campaigns[1][head.index('campaign_id')]}"
    missing = query(
        wh, "select source_file, campaign_id from audit.not_null_stg_adops__campaigns_advertiser_id"
    )
    assert missing.values.tolist() == [[str(adops / "campaigns.csv"), bad_campaign]]
    named = query(
        wh,
        "select parse_errors, unparsed_values from staging.stg_adops__campaigns "
        f"where campaign_id = '{bad_campaign}'",
    )
    assert named.parse_errors.tolist() == ["advertiser_id"]
    assert json.loads(named.unparsed_values[0])["advertiser_id"] == "N/A"
    assert (
        query(wh, "select count(*) as n from staging.stg_adops__campaigns where advertiser_id = 'N/A'").n[0]
        == 0
    )
    twice = query(
        wh, "select distinct source_file from audit.unique_key_rows_stg_adops__campaigns_campaign_id"
    )
    assert sorted(twice.source_file) == sorted([str(adops / "campaigns.csv"), str(redelivered)])
    rejected = query(
        wh,
        "select source_file, line_number from audit.csv_lines_all_read_stg_adops__ad_sets_adops__ad_sets",
    )
    assert rejected[["source_file", "line_number"]].values.tolist() == [[str(adops / "ad_sets.csv"), 6]]
    header = query(wh, "select * from audit.adops__ads__has_no_header_line_inside")
    assert header.filename.tolist() == [str(adops / "ads.csv")]
    overlay = query(
        wh,
        "select parse_errors, unparsed_values from audit.all_values_parse_stg_adops__creatives_parse_errors",
    )
    assert overlay.parse_errors.tolist() == ["image.text_overlay_pct"]
    assert json.loads(overlay.unparsed_values[0])["image.text_overlay_pct"] == "24.3%"


def test_duplicates_and_repairs(built: Warehouse) -> None:
    truth = defects(built)
    dups = query(built, "select source_name, count(*) as n from audit.removed_duplicates group by 1")
    assert dict(dups.values) == truth[truth.handling == "dedup"].groupby("source").size().to_dict()
    keys = query(built, "select source_name, duplicate_key from audit.removed_duplicates")
    got = sorted((s, k.split("|")[0].split(":", 1)[1]) for s, k in keys.values)
    want = truth[truth.handling == "dedup"]
    assert got == sorted(zip(want.source, want.key, strict=True))

    campaigns = query(
        built,
        "select count(*) as n from intermediate.int_campaigns_cleaned "
        "where has_invalid_end_date and campaign_end_date is null",
    )
    assert campaigns.n[0] == (truth.defect == "end_before_start").sum() > 0

    creatives = query(built, "select creative_id, headline, body from intermediate.int_creatives_normalized")
    creatives["key"] = creatives.creative_id.str.split(":", n=1).str[1]
    messy = truth[truth.defect == "messy_text"].merge(creatives, on="key")
    assert len(messy) == (truth.defect == "messy_text").sum() > 0
    assert (messy.headline + "\n" + messy.body == messy.expected).all()
    kept = truth[truth.defect == "text_kept"].merge(creatives, on="key")
    assert kept.headline.str.contains("🔥|限时优惠|[A-Z]{4}", regex=True).all()


def test_data_quality_report_counts_every_row(built: Warehouse) -> None:
    report = query(built, "select * from marts.data_quality_report")
    rec = query(built, "select source_name, raw_rows from audit.source_reconciliation")
    totals = report.groupby("source_name").n_rows.sum()
    assert totals.to_dict() == dict(rec.values)
    assert not report.is_source_over_threshold.any()
    assert "empty_file" in set(report.outcome)
    assert report.max_reject_rate.eq(0.05).all()


def test_corruption_over_threshold_fails_dbt_and_blocks_training(tmp_path: Path) -> None:
    raw, truth = tmp_path / "raw", tmp_path / "ground_truth"
    generate(600, 30, 5, raw, truth, 1, SMALL["start_date"], defect_scale=8.0)
    wh = make_warehouse(tmp_path / "wh", raw, truth)
    result = wh.dbt_build()
    assert result.returncode != 0
    assert "data_quality_report__reject_rate_over_threshold" in result.stdout
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        over = con.execute(
            "select count(distinct source_name) from marts.data_quality_report where is_source_over_threshold"
        ).fetchall()[0][0]
        marts = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'ad_score_training'"
        ).fetchall()
    assert over > 0
    assert marts[0][0] == 0, "the training mart must not be built past a failed quality gate"
    train = wh.run(sys.executable, "-m", "ml.train", "--n-trials", "1", "--no-mlflow")
    assert train.returncode == 4
    assert "data quality gate: source" in train.stderr and "see marts.data_quality_report" in train.stderr


def test_source_freshness_reports_the_age_of_each_load(built: Warehouse) -> None:
    """`dbt source freshness` judges every source by its extraction timestamps."""
    import datetime as dt

    result = built.run(str(Path(sys.executable).parent / "dbt"), "source", "freshness")
    results = json.loads((built.root / "dbt_target" / "sources.json").read_text())["results"]
    by_source = {r["unique_id"].split(".", 2)[2]: r for r in results}
    assert set(by_source) >= {
        "meta_ads.ads_insights",
        "google_ads.ad_group_ad_performance",
        "tiktok_ads.ad_report",
        "pinterest_ads.ad_analytics",
    }
    meta = by_source["meta_ads.ads_insights"]
    loaded = dt.datetime.fromisoformat(meta["max_loaded_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    age_days = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - loaded).total_seconds() / 86400
    expected = "error" if age_days > 7 else "warn" if age_days > 2 else "pass"
    assert meta["status"] == expected
    assert result.returncode == (1 if any(r["status"] == "error" for r in results) else 0)


def test_source_freshness_reads_offsets_in_extraction_stamps(built: Warehouse, tmp_path: Path) -> None:
    """An export stamped 6 days 22 hours ago in New York time ("...-05:00") is 6.9 days old:
    a warning, not an error.  Read without its offset, it looked 7.1 days old (an error)."""
    import datetime as dt

    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    extracted = dt.datetime.now(dt.UTC) - dt.timedelta(days=6, hours=22)
    stamp = extracted.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(timespec="seconds")
    export = raw / "google_ads" / "ad_group_ad_performance.csv"
    lines = export.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    stamped = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # only extracted_at looks so
    lines = [stamped.sub(stamp, line) for line in lines]
    export.write_text("".join(lines), encoding="utf-8", errors="surrogateescape")
    wh = built.with_raw(tmp_path / "offsets", raw)
    wh.dbt("source", "freshness", "--select", "source:google_ads")
    results = json.loads((wh.root / "dbt_target" / "sources.json").read_text())["results"]
    (google,) = results
    loaded = dt.datetime.fromisoformat(google["max_loaded_at"].replace("Z", "+00:00"))
    assert abs((loaded.replace(tzinfo=loaded.tzinfo or dt.UTC) - extracted).total_seconds()) < 2
    assert google["status"] == "warn", google


def test_source_freshness_ignores_stamps_that_are_not_times(built: Warehouse, tmp_path: Path) -> None:
    """A stale export stays stale when one of its rows carries "infinity" as its extraction
    stamp: staging rejects that row as unparseable, and a plain cast read it as the newest
    extraction there could be, so the source passed freshness for ever."""
    import datetime as dt

    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    export = raw / "google_ads" / "ad_group_ad_performance.csv"
    lines = export.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    stamped = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # only extracted_at looks so
    lines = [stamped.sub(stamp, line) for line in lines]
    row = next(i for i, line in enumerate(lines) if i and line.rstrip().endswith(stamp))
    lines[row] = lines[row].rstrip()[: -len(stamp)] + "infinity\n"
    export.write_text("".join(lines), encoding="utf-8", errors="surrogateescape")
    wh = built.with_raw(tmp_path / "infinity", raw)
    result = wh.dbt("source", "freshness", "--select", "source:google_ads")
    (google,) = json.loads((wh.root / "dbt_target" / "sources.json").read_text())["results"]
    assert google["status"] == "error", google
    assert google["max_loaded_at"].startswith(stamp[:10]), google
    assert result.returncode == 1


def test_account_health_label_matches_the_ground_truth(built: Warehouse) -> None:
    panel = query(built, "select account_id, week_start, is_at_risk from marts.account_health_training")
    truth = pd.read_csv(built.truth / "account_health_oracle.csv", parse_dates=["week_start"])
    truth = truth.dropna(subset=["is_at_risk_python"])
    panel["week_start"] = pd.to_datetime(panel.week_start)
    merged = truth.merge(panel, on=["account_id", "week_start"], how="outer", indicator=True)
    assert (merged._merge == "both").all() and len(merged) > 100
    assert (merged.is_at_risk_python.astype(bool) == merged.is_at_risk.astype(bool)).all()
    assert 0.05 < merged.is_at_risk.mean() < 0.8
    # The true probability is informative: higher where the label turned out positive.
    positive = merged.is_at_risk.astype(bool)
    assert (
        merged.true_at_risk_probability[positive].mean() > merged.true_at_risk_probability[~positive].mean()
    )


def test_no_account_health_feature_reads_the_future(built: Warehouse, tmp_path: Path) -> None:
    """Multiply all delivery after a cutoff by 10: features up to the cutoff must not move."""
    wh = built.with_raw(tmp_path / "future", built.raw)
    weeks = sorted(query(wh, "select distinct week_start from marts.account_health_training").week_start)
    cutoff = pd.Timestamp(weeks[len(weeks) // 2]) + pd.Timedelta(days=6)  # a Sunday
    before = query(wh, "select * from marts.account_health_training order by account_id, week_start")
    with duckdb.connect(str(wh.duckdb)) as con:
        con.execute(
            "update intermediate.int_ad_daily_performance_joined set spend = spend * 10, "
            "conversion_value = conversion_value * 3, impressions = impressions * 10 "
            "where performance_date > ?",
            [cutoff.date()],
        )
    result = wh.run(str(Path(sys.executable).parent / "dbt"), "run", "--select", "int_ad_weeks_delivered+")
    assert result.returncode == 0, result.stdout[-3000:]
    after = query(wh, "select * from marts.account_health_training order by account_id, week_start")
    features = [c for c in before.columns if c != "is_at_risk"]
    past = pd.to_datetime(before.week_start) + pd.Timedelta(days=6) <= cutoff
    past_after = pd.to_datetime(after.week_start) + pd.Timedelta(days=6) <= cutoff
    pd.testing.assert_frame_equal(
        before.loc[past, features].reset_index(drop=True),
        after.loc[past_after, features].reset_index(drop=True),
    )
    # The change was real: labels of weeks whose horizon crosses the cutoff moved.
    joined = before.merge(after, on=["account_id", "week_start"], suffixes=("_before", "_after"))
    assert (joined.is_at_risk_before != joined.is_at_risk_after).any()


CHECKED = ("int_ad_daily_performance_checked", "int_offline_conversions_checked")
# Columns that name a load or a run rather than data: they differ between any two builds.
RUN_COLUMNS = {"row_key", "load_invocation_id", "loaded_at", "detected_at"}
RUN_LOG_TABLES = {"dbt_builds"}  # one row per dbt invocation: differs between any two builds


def file_loads(wh: Warehouse) -> dict[str, str]:
    """The dbt invocation that parsed each raw file's rows."""
    loads = pd.concat(
        query(wh, f"select distinct source_file, load_invocation_id from intermediate.{t}") for t in CHECKED
    )
    assert not loads.source_file.duplicated().any(), "every file is loaded by one invocation"
    return dict(zip(loads.source_file, loads.load_invocation_id, strict=True))


def test_a_file_changed_after_the_listing_keeps_its_rows(built: Warehouse, tmp_path: Path) -> None:
    """A file that changes between a build's listing and its load keeps its rows until the next build."""
    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    wh = built.with_raw(tmp_path / "race", raw)
    model = "int_offline_conversions_checked"
    loads = (
        f"select source_file, load_signature, load_invocation_id, count(*) as n from intermediate.{model} "
        "group by all order by all"
    )
    first = wh.dbt("run", "--select", f"+{model}")  # the staging view reads the copied files
    assert first.returncode == 0, first.stdout[-3000:]
    loaded = query(wh, loads)
    feed = raw / "conversions/offline_conversions.csv"
    assert str(feed) in set(loaded.source_file)

    # The feed is re-delivered (a new modification time) just after the build listed the files.
    os.utime(feed, (feed.stat().st_atime, feed.stat().st_mtime + 60))
    racing = wh.with_env(ADSCORE_FAILPOINT="dbt:listed_before_change").dbt("run", "--select", model)
    assert racing.returncode == 0, racing.stdout[-3000:]
    pd.testing.assert_frame_equal(query(wh, loads), loaded)  # nothing deleted, nothing parsed

    # The next build sees the new delivery and parses it.
    after = wh.dbt("run", "--select", model)
    assert after.returncode == 0, after.stdout[-3000:]
    reloaded = query(wh, loads).set_index("source_file")
    before = loaded.set_index("source_file")
    assert reloaded.loc[str(feed), "n"] == before.loc[str(feed), "n"]
    assert reloaded.loc[str(feed), "load_signature"] != before.loc[str(feed), "load_signature"]
    assert reloaded.loc[str(feed), "load_invocation_id"] != before.loc[str(feed), "load_invocation_id"]


def differing_tables(a: Path, b: Path) -> list[str]:
    """Tables of the cleaning layers whose rows differ (except all, both ways) between two builds."""
    monitoring = {p.stem for p in (Path(__file__).parents[2] / "models/marts/monitoring").glob("*.sql")}
    differ = []
    with duckdb.connect() as con:
        con.execute("attach ? as a (read_only)", [str(a)])
        con.execute("attach ? as b (read_only)", [str(b)])
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'a' "
            "and schema_name in ('staging', 'intermediate', 'audit', 'marts') order by all"
        ).fetchall()
        assert len(tables) > 50
        for schema, table in tables:
            if table in monitoring or table in RUN_LOG_TABLES:
                continue
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = 'a' "
                    "and schema_name = ? and table_name = ? order by column_index",
                    [schema, table],
                ).fetchall()
            ]
            cols = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS)
            if not cols:
                continue
            for x, y in (("a", "b"), ("b", "a")):
                extra = con.execute(
                    f'select count(*) from (select {cols} from {x}."{schema}"."{table}" '
                    f'except all select {cols} from {y}."{schema}"."{table}")'
                ).fetchall()[0][0]
                if extra:
                    differ.append(f"{schema}.{table}")
                    break
    return differ


def test_parser_version_covers_the_macros_the_loading_models_call(built: Warehouse, tmp_path: Path) -> None:
    """A change to a macro that the incrementally loaded models call for their rows (here the
    rule is_after_extraction) changes every file's load signature, so the next build parses
    every file again, as a fresh build would, instead of keeping rows checked by the old rule."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "dbt_project.yml", project)
    for folder in ("macros", "models", "seeds"):
        shutil.copytree(REPO / folder, project / folder)
    shutil.copytree(REPO / "tests", project / "tests", ignore=shutil.ignore_patterns("python", "__pycache__"))
    wh = built.with_raw(tmp_path / "warehouse", built.raw)
    models = ("int_ad_daily_performance_checked", "int_offline_conversions_checked")

    def signatures() -> dict[str, dict[str, str]]:
        result = wh.dbt("compile", "--project-dir", str(project), "--select", *models)
        assert result.returncode == 0, result.stdout[-3000:]
        compiled = wh.root / "dbt_target" / "compiled" / "adscore" / "models" / "intermediate"
        plans = {}
        for name in models:
            found = re.search(r"/\* adscore\.raw_load_plan (.*?) \*/", (compiled / f"{name}.sql").read_text())
            assert found, name
            plans[name] = dict(json.loads(found.group(1)))
        return plans

    before = signatures()
    assert all(before.values()) and signatures() == before
    cleaning = project / "macros" / "cleaning.sql"
    rule = "{{ performance_date }} > cast({{ extracted_at }} as date) + 1"
    assert rule in cleaning.read_text()
    cleaning.write_text(cleaning.read_text().replace(rule, rule.replace("+ 1", "- 1")))
    after = signatures()
    for name in models:
        assert after[name].keys() == before[name].keys()
        assert all(after[name][f] != before[name][f] for f in before[name]), name


def test_raw_files_load_incrementally(built: Warehouse, tmp_path: Path) -> None:
    """A rebuild parses only new and changed files, forgets gone ones, and ends as a fresh build."""
    raw = tmp_path / "raw"
    shutil.copytree(built.raw, raw)
    feed = (raw / "conversions/offline_conversions.csv").read_bytes().split(b"\n")
    late = raw / "conversions/offline_conversions_late.csv"
    # Two re-delivered rows and a line with too many fields (the CSV reader rejects it).
    late.write_bytes(
        b"\n".join([feed[0], *(line.replace(b"2026-11-29", b"2026-11-30") for line in feed[1:3])])
        + b"\n2026-09-01,meta,1,0,0,0,0,0,2026-11-30T06:00:00Z,surplus\n"
    )
    # The copy sits under another path: every file is new to the copied warehouse.
    wh = built.with_raw(tmp_path / "incremental", raw)
    first = wh.dbt_build()
    assert first.returncode == 0, first.stdout[-5000:]
    loads = file_loads(wh)
    assert all(Path(f).is_relative_to(raw) for f in loads) and len(set(loads.values())) == 1
    assert str(late) in loads
    rejects = "audit.csv_rejects__conversions__offline_conversions"
    assert len(query(wh, f"select * from {rejects} where source_file = '{late}'")) == 1

    # Changes: one Meta line's spend, a new Google re-delivery file, the late feed file gone.
    meta = raw / "meta/ads_insights.csv"
    lines = meta.read_bytes().split(b"\n")  # bytes: the exports carry invalid UTF-8 on purpose
    plain = re.compile(rb"\d+,\d+,\d+,\d+,\d{4}-\d\d-\d\d,\d{4}-\d\d-\d\d,[a-z_]+,\d+\.\d\d,")
    row = next(i for i, line in enumerate(lines[1:], 1) if plain.match(line))
    fields = lines[row].decode().split(",", 8)
    fields[7] = f"{float(fields[7]) + 1000:.2f}"
    lines[row] = ",".join(fields).encode()
    meta.write_bytes(b"\n".join(lines))
    google = (raw / "google_ads/ad_group_ad_performance.csv").read_bytes().split(b"\n")
    redelivery = raw / "google_ads/ad_group_ad_performance_redelivery.csv"
    redelivery.write_bytes(
        b"\n".join([google[0], *(g.replace(b"2026-11-29", b"2026-11-30") for g in google[1:4])]) + b"\n"
    )
    late.unlink()
    second = wh.dbt_build()
    assert second.returncode == 0, second.stdout[-5000:]
    reloads = file_loads(wh)
    changed = {str(meta), str(redelivery)}
    assert set(reloads) == set(loads) - {str(late)} | {str(redelivery)}
    assert {f for f in reloads if reloads[f] != loads.get(f)} == changed
    assert len({reloads[f] for f in changed}) == 1
    spend = query(
        wh,
        "select spend from intermediate.int_ad_daily_performance_checked "
        f"where source_file = '{meta}' and ad_id = 'meta:{fields[3]}' and performance_date = '{fields[4]}' "
        f"and platform = '{fields[6]}'",
    ).spend
    assert list(spend.astype(float)) == [float(fields[7])]
    assert len(query(wh, f"select * from {rejects} where source_file = '{late}'")) == 0
    assert query(wh, "select bool_and(is_reconciled) as ok from audit.source_reconciliation").ok[0]

    # The same files built from scratch give the same warehouse, row for row.
    fresh = make_warehouse(tmp_path / "fresh", raw, built.truth)
    result = fresh.dbt_build()
    assert result.returncode == 0, result.stdout[-5000:]
    assert differing_tables(wh.duckdb, fresh.duckdb) == []

    # A table loaded before incremental loading (no load columns) asks for one full refresh,
    # which parses every file again and keeps the same rows and rejected lines.
    feed_rejects = query(fresh, f"select * from {rejects} order by all")
    with duckdb.connect(str(fresh.duckdb)) as con:
        con.execute("alter table intermediate.int_offline_conversions_checked drop column load_signature")
    stale = fresh.dbt("run", "--select", "int_offline_conversions_checked")
    assert stale.returncode != 0 and "--full-refresh" in stale.stdout
    refreshed = fresh.dbt("run", "--full-refresh", "--select", "int_offline_conversions_checked")
    assert refreshed.returncode == 0, refreshed.stdout[-3000:]
    pd.testing.assert_frame_equal(query(fresh, f"select * from {rejects} order by all"), feed_rejects)
    assert len(set(file_loads(fresh).values())) == 2  # the feed reloaded, the delivery not

    # No file at all (a missing folder or mount) stops the load instead of emptying the table.
    (tmp_path / "nothing").mkdir()
    before = query(fresh, "select count(*) as n from intermediate.int_offline_conversions_checked").n[0]
    missing = fresh.with_env(ADSCORE_RAW_DIR=str(tmp_path / "nothing")).dbt(
        "run", "--select", "int_offline_conversions_checked"
    )
    assert (
        missing.returncode != 0
        and "No file matches the source conversions.offline_conversions" in missing.stdout
    )
    assert (
        query(fresh, "select count(*) as n from intermediate.int_offline_conversions_checked").n[0]
        == before
        > 0
    )
