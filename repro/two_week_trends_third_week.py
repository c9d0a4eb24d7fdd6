"""Defect: at an advertiser's third calendar week the 'two weeks before' window holds one week,
so spend_trend_two_weeks compares two weeks' spend with one week's (about 2x too high) and
roas_trend_two_weeks uses one week's ROAS as the 'two before'."""
import sys, duckdb
c = duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else '/tmp/revF/wh.duckdb', read_only=True)
print(c.sql("select weeks_observed, count(spend_trend_two_weeks) n, median(spend_trend_two_weeks) median_spend_trend "
            "from marts.account_health_training group by 1 order by 1 limit 4"))
print(c.sql("""with w as (select advertiser_id, week_start, spend, row_number() over (partition by advertiser_id order by week_start) k
               from intermediate.int_account_weeks_aggregated)
            select f.advertiser_id, f.week_start, f.spend_trend_two_weeks,
                   (select sum(spend) from w where w.advertiser_id = f.advertiser_id and k in (2, 3))
                   / (select sum(spend) from w where w.advertiser_id = f.advertiser_id and k = 1) as last2_over_first1
            from intermediate.int_account_weeks_featurized f
            join w using (advertiser_id, week_start) where w.k = 3 and f.spend_trend_two_weeks is not null limit 3"""))
