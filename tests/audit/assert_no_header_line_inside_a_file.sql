-- A header line inside a file (exports concatenated with `cat`) is rejected as a row whose
-- fields hold column names.  When the second export lists its columns in another order, the
-- rows after that line are read with the first order: ids or metrics land in the wrong
-- columns and may still parse as clean.  The build fails on any such line, naming the file
-- and the row; split the file at that line (or drop the line if the orders agree).
with

rejected as (

    select * from {{ ref('rejected_rows') }}

),

-- unparsed_values: declared column -> raw text, for the fields of the row that did not parse.
unparsed as (

    select
        source_name,
        source_file,
        source_row_id,
        json_transform(
            json_extract_string(raw_content, '$.unparsed_values'), '"MAP(VARCHAR, VARCHAR)"'
        ) as fields
    from rejected
    where
        reason_code not in ('malformed_line', 'invalid_encoding', 'empty_file')
        and json_valid(raw_content)

),

header_lines as (

    select
        source_name,
        source_file,
        source_row_id,
        map_values(fields) as texts,
        len(list_filter(map_values(fields), lambda cell: list_contains(map_keys(fields), cell)))
            as n_column_names
    from unparsed

)

select *
from header_lines
where n_column_names >= 2
