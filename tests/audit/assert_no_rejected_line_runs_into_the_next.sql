-- A line the CSV reader rejected must be one line.  A quote left open (`"USD`) makes the
-- reader take the following lines as the rest of that field: they are counted as one rejected
-- line and never read as rows, so the reconciliation cannot see them.  Such a reject spans
-- several lines, or was cut at the reader's 10,000 characters.  The build fails naming the file
-- and line; fix the quote in the export and build again.
with

rejected as (

    select * from {{ ref('rejected_rows') }}

)

select
    source_name,
    source_file,
    source_row_id as line_number,
    length(raw_content) as n_characters,
    len(string_split(trim(raw_content, chr(10) || chr(13)), chr(10))) as n_lines
from rejected
where
    reason_code in ('malformed_line', 'invalid_encoding')
    and lower(source_file) like '%.csv'  -- JSON lines are read without a quote character
    and (
        length(raw_content) >= 10000
        or contains(trim(raw_content, chr(10) || chr(13)), chr(10))
    )
