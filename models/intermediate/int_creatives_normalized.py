"""Creative copy normalised for modelling, as a dbt Python model (DuckDB runs it in-process).

HTML entities are unescaped, text is put in Unicode NFC, whitespace (including no-break
spaces, tabs and newlines) is collapsed to single spaces and trimmed.  Case, emoji and
non-Latin scripts are kept: they are valid copy and carry signal (VADER reads capitals and
emoji).  Creatives whose JSON line was malformed are quarantined in audit.rejected_rows.
"""

import html
import re
import unicodedata

WHITESPACE = re.compile(r"\s+")


def normalize_text(text):
    if text is None:
        return None
    text = html.unescape(str(text))
    text = unicodedata.normalize("NFC", text)
    return WHITESPACE.sub(" ", text).strip()


def model(dbt, session):
    dbt.config(materialized="table")
    creatives = dbt.ref("stg_adops__creatives").filter("is_valid_json").df()
    creatives["headline_was_normalized"] = False
    for column in ("headline", "body"):
        raw = creatives[column].astype(object)
        normalized = raw.map(normalize_text)
        changed = normalized.ne(raw) & raw.notna()
        creatives[column] = normalized.fillna("")
        creatives["headline_was_normalized"] |= changed.to_numpy()
    creatives = creatives.rename(columns={"headline_was_normalized": "was_text_normalized"})
    creatives["ad_text"] = (creatives["headline"] + " " + creatives["body"]).str.strip()
    return creatives.drop(columns=["raw_record", "is_valid_json", "source_file"])
