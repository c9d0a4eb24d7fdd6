{% test csv_lines_all_read(model, source_name, table_name) %}
    {#-
        Every line of the CSV files `model` reads was parsed: the lines DuckDB's reader
        rejected (too many or too few fields, a quote left open, invalid UTF-8), as persisted
        by the model's post-hook (macro persist_csv_rejects), with file, line and error, so
        the stored failures say which line to fix.  For sources whose rows cannot be
        quarantined without orphaning what refers to them (the ad-ops configuration).
    -#}
    select
        source_file,
        line_number,
        error_types,
        left(raw_content, 500) as raw_content,
        'fix this line (a quote left open, a stray delimiter) or re-save the file as UTF-8' as hint
    from {{ target.database }}.audit.csv_rejects__{{ source_name }}__{{ table_name }}
{% endtest %}
