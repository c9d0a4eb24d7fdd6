"""Creative copy normalised for modelling, as a dbt Python model (DuckDB runs it in-process).

HTML entities are unescaped, text is put in Unicode NFC, whitespace (including no-break
spaces, tabs and newlines) is collapsed to single spaces and trimmed.  Case, emoji and
non-Latin scripts are kept: they are valid copy and carry signal (VADER reads capitals and
emoji).  Creatives whose JSON line was malformed are quarantined in audit.rejected_rows.

Only copy that could change (an '&', doubled or odd whitespace, leading or trailing space,
or any non-ASCII character) is touched.  Without an '&' there is no entity to unescape, and
DuckDB does the rest (nfc_normalize, and a whitespace class equal to Python's str.isspace);
only copy with an '&' goes through Python's html.unescape.
"""

import html
import math
import re
import unicodedata

WHITESPACE = re.compile(r"\s+")
COLUMNS = (
    "creative_id, headline, body, call_to_action, image_dominant_color, image_width, "
    "image_height, image_text_overlay_pct, image_has_people, updated_at"
)
# RE2's \s is [\t\n\f\r ] only: the class adds \v and \x1c-\x1f, which str.isspace() counts.
_MAY_CHANGE_RE = "'&|\\s\\s|[\\t-\\r\\x1c-\\x1f]|^\\s|\\s$|[^\\x00-\\x7F]'"
MAY_CHANGE = (
    f"(regexp_matches(coalesce(headline, ''), {_MAY_CHANGE_RE}) "
    f"or regexp_matches(coalesce(body, ''), {_MAY_CHANGE_RE}))"
)
HAS_AMPERSAND = "contains(coalesce(headline, '') || coalesce(body, ''), '&')"
# Exactly the characters for which Python's str.isspace() is true (RE2 syntax).
WHITESPACE_RUN = "'[\\t-\\r\\x{1c}-\\x{1f}\\x{85}\\p{Z}]+'"


def sql_normalized(column):
    """NFC, whitespace runs collapsed to one space, trimmed: normalize_text without unescaping."""
    return f"trim(regexp_replace(nfc_normalize({column}), {WHITESPACE_RUN}, ' ', 'g'))"


def is_missing(value):
    """NULL as pandas hands it over: None, NaN (a text column with nulls) or pd.NA."""
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, float) and math.isnan(value)


def normalize_text(text):
    if is_missing(text):
        return None
    text = html.unescape(str(text))
    text = unicodedata.normalize("NFC", text)
    return WHITESPACE.sub(" ", text).strip()


def model(dbt, session):
    dbt.config(materialized="table")
    creatives = dbt.ref("stg_adops__creatives").filter("is_valid_json").project(COLUMNS)
    plain = creatives.filter(f"not {MAY_CHANGE}").project(
        f"{COLUMNS}, coalesce(body, '') as body_text, false as was_text_normalized"
    )
    final = (
        "creative_id, headline, body_text as body, call_to_action, image_dominant_color, "
        "image_width, image_height, image_text_overlay_pct, image_has_people, updated_at, "
        "was_text_normalized, trim(coalesce(headline, '') || ' ' || body_text) as ad_text"
    )
    others = ", ".join(c for c in COLUMNS.split(", ") if c not in ("headline", "body"))
    spaced = (
        creatives.filter(f"{MAY_CHANGE} and not {HAS_AMPERSAND}")
        .project(
            f"{others}, headline as raw_headline, body as raw_body, "
            f"{sql_normalized('headline')} as headline, {sql_normalized('body')} as body"
        )
        .project(
            f"{COLUMNS}, coalesce(body, '') as body_text, "
            "headline is distinct from raw_headline or body is distinct from raw_body "
            "as was_text_normalized"
        )
    )
    plain = plain.union(spaced)
    messy = creatives.filter(f"{MAY_CHANGE} and {HAS_AMPERSAND}").df()
    if messy.empty:
        return plain.project(final)
    normalized = {}
    changed = None
    for column in ("headline", "body"):
        raw = messy[column].astype(object)
        normalized[column] = raw.map(normalize_text)
        # NULL stays NULL (a null body is not the text 'nan') and is not a change.
        differs = raw.combine(
            normalized[column], lambda a, b: is_missing(a) != is_missing(b) or (not is_missing(a) and a != b)
        )
        changed = differs if changed is None else changed | differs
    messy["headline"] = normalized["headline"]
    messy["body_text"] = normalized["body"].map(lambda b: "" if is_missing(b) else b).astype(object)
    messy["was_text_normalized"] = changed.astype(bool).to_numpy()
    repaired = session.from_df(messy).project(f"{COLUMNS}, body_text, was_text_normalized")
    return plain.union(repaired).project(final)
