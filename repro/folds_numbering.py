"""Defect: marts.account_health_folds numbers its folds 6, 7, 8 (the validation weeks' rank
among all training weeks) instead of 0 .. account_health_n_folds - 1."""
import sys, duckdb
c = duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else '/tmp/revF/wh.duckdb', read_only=True)
print(c.sql("select fold, min(week_start) filter (where role = 'valid') valid_week, count(*) rows_ "
            "from marts.account_health_folds where fold is not null group by fold order by fold"))
