{#-
    Cleaning macros: tolerant parsing of the text cells raw exports deliver.  Each returns
    NULL when a value cannot be parsed; `parse_errors` then names the fields that were
    present but unparseable, so the row is quarantined with that reason instead of being
    silently nulled.  Dialect-specific ones go through adapter.dispatch.

    Fallbacks are CASE branches, not COALESCE arguments: CASE evaluates a branch only for the
    rows that reach it, while COALESCE may evaluate every argument for every row (measured on
    DuckDB: 5.7x faster on a numeric column where nearly every cell takes the fast path).
-#}

{% macro parse_number(text, data_type='decimal(18, 6)') -%}
    {#-
        "1,234.56", "$1,234.56", "1,234.56 USD", " 12 " -> 1234.56; anything else -> NULL.
        Plain numbers take the fast path; only the rest are stripped of formatting.  A
        floating-point type reads "nan", "inf" and "infinity" too: those are not numbers
        (NULL), or NaN (above every number in DuckDB's order) would pass range tests.
    -#}
    {%- set fast = adscore.try_cast(text, data_type) -%}
    {%- set stripped = adscore.try_cast(adscore.strip_number_formatting(text), data_type) -%}
    {%- if data_type | lower in ['double', 'float', 'real', 'float4', 'float8', 'double precision'] %}
    case
        when {{ adscore.is_finite(fast) }} then {{ fast }}
        when {{ adscore.is_finite(stripped) }} then {{ stripped }}
    end
    {%- else %}
    case
        when {{ fast }} is not null then {{ fast }}
        else {{ stripped }}
    end
    {%- endif %}
{%- endmacro %}

{% macro is_finite(expression) -%}
    {#- True for a finite floating-point number; false for NaN and infinities; NULL for NULL. -#}
    {{- return(adapter.dispatch('is_finite', 'adscore')(expression)) -}}
{%- endmacro %}

{% macro default__is_finite(expression) -%}
    ({{ expression }} between -1.7976931348623157e308 and 1.7976931348623157e308)
{%- endmacro %}

{% macro duckdb__is_finite(expression) -%}
    isfinite({{ expression }})
{%- endmacro %}

{% macro parse_integer(text) -%}
    {#-
        A whole number, as parse_number reads it, without a decimal point: "12.7" is not
        rounded to 13, nor "1.234" (1,234 written European-style?) read as 1: both -> NULL.
        A database's integer cast reads more than digits (DuckDB: "45991e-1" as 4599, "0x1F"
        as 31, "1_000" as 1000): a cast is kept only when the number prints back as its text
        (the fast path: nearly every cell) or the text is digits with a sign and spaces.
    -#}
    {%- set fast = adscore.try_cast(text, 'bigint') -%}
    {%- set no_point = dbt.position("'.'", text) ~ ' = 0' -%}
    case
        when cast({{ fast }} as {{ dbt.type_string() }}) = {{ text }} then {{ fast }}
        when {{ fast }} is not null
            then case when {{ adscore.regexp_full_match(text, '\\s*[+-]?\\d+\\s*') }} then {{ fast }} end
        when {{ no_point }} then {{ adscore.try_cast(adscore.strip_number_formatting(text), 'bigint') }}
    end
{%- endmacro %}

{% macro strip_number_formatting(text) -%}
    {#-
        The text of a number written in a documented format, without the formatting: a minus,
        a "$", digits with thousands separators in groups of three ("1,234,567"), a decimal
        point, a "USD", spaces around.  NULL for any other text, so that a European-style or
        ambiguous number ("3.405,64", "4,83", "1,23,456") is not read as another one.
    -#}
    case
        when {{ adscore.regexp_full_match(text, '\\s*-?\\$?(\\d{1,3}(,\\d{3})+|\\d+)(\\.\\d+)?\\s*(USD)?\\s*') }}
            then trim(replace(replace(replace({{ text }}, '$', ''), 'USD', ''), ',', ''))
    end
{%- endmacro %}

{% macro regexp_full_match(text, pattern) -%}
    {#- Whether the whole of `text` matches the regular expression `pattern` (RE2 syntax). -#}
    {{- return(adapter.dispatch('regexp_full_match', 'adscore')(text, pattern)) -}}
{%- endmacro %}

{% macro default__regexp_full_match(text, pattern) -%}
    {#-
        No portable form: engines name the function differently (regexp_like, regexp_contains,
        rlike, ~), anchor differently and read backslashes in string literals differently.
    -#}
    {{ exceptions.raise_compiler_error(
        "regexp_full_match has no implementation for adapter '" ~ target.type ~ "': add a "
        ~ target.type ~ "__regexp_full_match macro (macros/cleaning.sql) whose expression is true "
        ~ "when the whole text matches the RE2 pattern"
    ) }}
{%- endmacro %}

{% macro duckdb__regexp_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro parse_date(text) -%}
    {{- return(adapter.dispatch('parse_date', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__parse_date(text) -%}
    {{ adscore.try_cast(text, 'date') }}
{%- endmacro %}

{% macro duckdb__parse_date(text) -%}
    {#-
        ISO (with or without a time) on the fast path; then, trimmed, US m/d/Y, Y/m/d and
        "1 Aug 2026".  The year has four digits (1000-9999): "09/20/26" or "26-08-01" is not
        year 26, nor "12026-08-01" a date; and a date starts with a digit, so that the special
        values "epoch" and "infinity" are not read as 1970-01-01 or 9999-12-31.
    -#}
    {%- set trimmed = 'trim(' ~ text ~ ')' -%}
    {%- set formatted -%}
        cast(coalesce(
            try_cast({{ trimmed }} as date),
            try_strptime({{ trimmed }}, '%Y-%m-%d %H:%M:%S'),
            try_strptime({{ trimmed }}, '%m/%d/%Y'),
            try_strptime({{ trimmed }}, '%Y/%m/%d'),
            try_strptime({{ trimmed }}, '%d %b %Y')
        ) as date)
    {%- endset -%}
    case
        when
            try_cast({{ text }} as date) between date '1000-01-01' and date '9999-12-31'
            and {{ text }} >= '0' and {{ text }} < ':'
            then try_cast({{ text }} as date)
        when not ({{ trimmed }} >= '0' and {{ trimmed }} < ':') then null
        when {{ formatted }} between date '1000-01-01' and date '9999-12-31' then {{ formatted }}
    end
{%- endmacro %}

{% macro parse_timestamp(text) -%}
    {#-
        ISO 8601 timestamps as UTC: a trailing Z, a UTC offset ("+09:00", "-0500") or a zone
        name is converted to UTC; a time without one is taken as UTC.  Special values
        ("infinity", "epoch") are not times: a timestamp starts with its year's digits.
    -#}
    {{- return(adapter.dispatch('parse_timestamp', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__parse_timestamp(text) -%}
    {{ adscore.try_cast(text, 'timestamp') }}
{%- endmacro %}

{% macro duckdb__parse_timestamp(text) -%}
    {#-
        The exports' own format ("2026-08-02T06:00:00Z") on the fast path: a plain cast reads
        a Z as UTC.  A plain cast also reads "10:00:00+09:00" or "10:00:00 Asia/Tokyo", but
        as 10:00, dropping the zone: a time followed by a sign or a letter is read as a
        timestamptz instead, and converted to UTC (not to the session's time zone).
    -#}
    {%- set trimmed = 'trim(' ~ text ~ ')' -%}
    case
        when {{ text }} like '%Z' and {{ text }} >= '0' and {{ text }} < ':'
            then try_cast({{ text }} as timestamp)
        when not ({{ trimmed }} >= '0' and {{ trimmed }} < ':') then null
        when regexp_matches({{ trimmed }}, '\d:\d\d(:\d\d(\.\d*)?)?\s*[A-Za-z+-]')
            then timezone('UTC', try_cast({{ trimmed }} as timestamptz))
        else try_cast({{ trimmed }} as timestamp)
    end
{%- endmacro %}

{% macro parse_errors(fields) -%}
    {#-
        Comma-separated names of the fields whose text is present but did not parse, or
        NULL.  `fields` maps a field name to its [text expression, parsed expression].  A
        cell of blanks only (spaces of any kind, tabs, line breaks) is missing, not
        unparseable, as in or_zero_when_empty (blanks_removed).
    -#}
    nullif(concat_ws(','
        {%- for name, pair in fields.items() %},
        case
            when ({{ pair[1] }}) is not null then null
            when nullif({{ adscore.blanks_removed(pair[0]) }}, '') is not null then '{{ name }}'
        end
        {%- endfor %}
    ), '')
{%- endmacro %}

{% macro record_as_json(relation_alias) -%}
    {{- return(adapter.dispatch('record_as_json', 'adscore')(relation_alias)) -}}
{%- endmacro %}

{% macro default__record_as_json(relation_alias) -%}
    {{ exceptions.raise_compiler_error("record_as_json has no implementation for " ~ target.type) }}
{%- endmacro %}

{% macro duckdb__record_as_json(relation_alias) -%}
    cast(to_json({{ relation_alias }}) as varchar)
{%- endmacro %}

{% macro json_texts(json_column, paths, is_valid='is_valid_json') -%}
    {#-
        Fields of a JSON-lines record as a list of text, in the order of `paths` (NULL when the
        line is not valid JSON); the line is parsed once for all of them.
    -#}
    {{- return(adapter.dispatch('json_texts', 'adscore')(json_column, paths, is_valid)) -}}
{%- endmacro %}

{% macro duckdb__json_texts(json_column, paths, is_valid) -%}
    case when {{ is_valid }} then json_extract_string({{ json_column }}, [
        {%- for path in paths %}'{{ path }}'{{ ", " if not loop.last }}{% endfor -%}
    ]) end
{%- endmacro %}

{% macro is_valid_json(json_column) -%}
    {{- return(adapter.dispatch('is_valid_json', 'adscore')(json_column)) -}}
{%- endmacro %}

{% macro duckdb__is_valid_json(json_column) -%}
    coalesce(json_valid({{ json_column }}), false)
{%- endmacro %}

{% macro median(expression) -%}
    {{- return(adapter.dispatch('median', 'adscore')(expression)) -}}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro try_cast(expression, data_type) -%}
    {#- A cast that yields NULL instead of failing (dbt.safe_cast is a plain cast on duckdb). -#}
    {{- return(adapter.dispatch('try_cast', 'adscore')(expression, data_type)) -}}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    {{ dbt.safe_cast(expression, data_type) }}
{%- endmacro %}

{% macro duckdb__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro text_record(fields) -%}
    {#- The raw text of `fields` (name -> [text expression, parsed expression]) as a JSON object. -#}
    {{- return(adapter.dispatch('text_record', 'adscore')(fields)) -}}
{%- endmacro %}

{% macro duckdb__text_record(fields) -%}
    cast(json_object(
        {%- for name, pair in fields.items() %}
        '{{ name }}', {{ pair[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as varchar)
{%- endmacro %}

{% macro or_zero_when_empty(text, parsed) -%}
    {#-
        The documented default for optional counts and values: 0 when the cell is empty (the
        platforms omit what did not happen, and a cell of blanks only is empty); NULL when
        text is present but unparseable, so that parse_errors reports it.
    -#}
    case
        when ({{ parsed }}) is not null then ({{ parsed }})
        when nullif({{ adscore.blanks_removed(text) }}, '') is null then 0
    end
{%- endmacro %}

{% macro trim_blank(text) -%}
    {#-
        An identifier or code without the blanks around it: spaces, tabs, carriage returns,
        line feeds and no-break spaces (spreadsheet-touched exports pad keys with them; a
        plain trim removes spaces only, so '\t123' would miss its ad-ops row).
    -#}
    {{- return(adapter.dispatch('trim_blank', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__trim_blank(text) -%}
    trim({{ text }})
{%- endmacro %}

{% macro duckdb__trim_blank(text) -%}
    trim({{ text }}, ' ' || chr(9) || chr(10) || chr(13) || chr(160))
{%- endmacro %}

{% macro blanks_removed(text) -%}
    {#-
        The text without the blanks around it, to tell a blank cell ('') from a value:
        Unicode spaces (what trim removes: ' ', no-break, ideographic ...) and the control
        blanks (tab, line feed, vertical tab, form feed, carriage return), mixed in any order.
        Used where a value failed to parse, so its cost is off the fast path (trim_blank,
        applied to every key, removes a fixed set instead).
    -#}
    {{- return(adapter.dispatch('blanks_removed', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__blanks_removed(text) -%}
    trim({{ text }})
{%- endmacro %}

{% macro duckdb__blanks_removed(text) -%}
    trim(translate({{ text }}, chr(9) || chr(10) || chr(11) || chr(12) || chr(13), '     '))
{%- endmacro %}

{% macro row_key() -%}
    {#-
        A key naming one row of a materialised table, made without reading any other row (the
        raw exports carry no line id, and identical re-deliveries exist, so no column set is
        unique).  Random: it ties a row only to the models built from that same table.
    -#}
    {{- return(adapter.dispatch('row_key', 'adscore')()) -}}
{%- endmacro %}

{% macro default__row_key() -%}
    {{ exceptions.raise_compiler_error("row_key has no implementation for " ~ target.type) }}
{%- endmacro %}

{% macro duckdb__row_key() -%}
    gen_random_uuid()
{%- endmacro %}

{% macro is_cpm_outlier(log_cpm, median_log_cpm, robust_sd_log_cpm) -%}
    {#-
        The robust CPM rule: ln CPM further than var outlier_max_robust_z robust standard
        deviations (1.4826 x MAD) from its platform's median.  NULL (not an outlier) without
        a CPM or a baseline.
    -#}
    abs({{ log_cpm }} - {{ median_log_cpm }}) > {{ var('outlier_max_robust_z') }} * {{ robust_sd_log_cpm }}
{%- endmacro %}

{% macro is_after_extraction(performance_date, extracted_at) -%}
    {#-
        A row reporting a day that had not begun anywhere when it was extracted: more than one
        day after the (UTC) date of its extraction (a typo'd year, a wrong column).  One day
        after is allowed: in a time zone ahead of UTC (up to +14:00) that day may have begun.
        NULL (the rule does not apply) without an extraction time.
    -#}
    {{ performance_date }} > cast({{ extracted_at }} as date) + 1
{%- endmacro %}

{% macro value_or_null_marker(text) -%}
    {#-
        A descriptive text cell without its blanks, or NULL when it is blank or holds a
        spreadsheet's placeholder for a missing value (NULL, N/A, #N/A, -, --, nan, None, any
        case): read as a value, `N/A` would become an advertiser or a category of its own.
        Listed in a model's parse_errors fields, a placeholder is reported like an
        unparseable value (present text, NULL value).
    -#}
    case
        when upper({{ adscore.trim_blank(text) }}) in ('', 'NULL', 'N/A', '#N/A', '-', '--', 'NAN', 'NONE')
            then null
        else {{ adscore.trim_blank(text) }}
    end
{%- endmacro %}

{% macro is_slash_date(text) -%}
    {#- The text is a date written a/b/yyyy (with or without a time). -#}
    {{- return(adapter.dispatch('is_slash_date', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__is_slash_date(text) -%}
    {#-
        The regular expression of duckdb__is_slash_date without one (regular expression
        functions differ between engines): every digit becomes a 9 (translate), and the
        shape must be one of the four a/b/yyyy forms, alone or followed by a space or a "T".
        Unlike the expression's ".", a LIKE "%" also matches a line break after the date.
    -#}
    {%- set shape = "translate(trim(" ~ text ~ "), '0123456789', '9999999999')" -%}
    (
        {%- for date_shape in ['9/9/9999', '9/99/9999', '99/9/9999', '99/99/9999'] %}
        {% if not loop.first %}or {% endif -%}
        {{ shape }} = '{{ date_shape }}'
        or {{ shape }} like '{{ date_shape }} %'
        or {{ shape }} like '{{ date_shape }}T%'
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__is_slash_date(text) -%}
    regexp_matches(trim({{ text }}), '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}([ T].*)?$')
{%- endmacro %}

{% macro is_day_first_date(text) -%}
    {#- The text is a/b/yyyy with a > 12: a day first, never a US month/day date. -#}
    {{- return(adapter.dispatch('is_day_first_date', 'adscore')(text)) -}}
{%- endmacro %}

{% macro default__is_day_first_date(text) -%}
    {#- An a/b/yyyy date (default__is_slash_date) whose a has two digits, from 13 to 31. -#}
    (
        {{ adscore.default__is_slash_date(text) }}
        and substring(trim({{ text }}), 3, 1) = '/'
        and substring(trim({{ text }}), 1, 2) between '13' and '31'
    )
{%- endmacro %}

{% macro duckdb__is_day_first_date(text) -%}
    regexp_matches(trim({{ text }}), '^(1[3-9]|2[0-9]|3[01])/[0-9]{1,2}/[0-9]{4}([ T].*)?$')
{%- endmacro %}

{% macro has_day_first_dates(texts, partition_by) -%}
    {#-
        Window expression: some row of the same `partition_by` (a file) holds, in one of the
        `texts` columns, an a/b/yyyy date with a > 12 (a day-first date).
    -#}
    max(case
        {%- for text in texts %}
        when {{ adscore.is_day_first_date(text) }} then 1
        {%- endfor %}
        else 0
    end) over (partition by {{ partition_by }}) = 1
{%- endmacro %}

{% macro parse_date_in_file(text, day_first_file) -%}
    {#-
        parse_date, except that in a file with evidence of day-first dates (`day_first_file`:
        some a/b/yyyy date of the file has a > 12, e.g. 14/10/2026) an a/b/yyyy date is NULL,
        not read month first: 01/09/2026 there is 1 September as likely as 9 January, so it
        is never guessed (present text, NULL value: parse_errors reports it).
    -#}
    case
        when not ({{ day_first_file }} and {{ adscore.is_slash_date(text) }})
            then {{ adscore.parse_date(text) }}
    end
{%- endmacro %}
