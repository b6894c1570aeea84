"""A sensor series as CSV (`format=csv` on the readings route), for spreadsheets and MES imports."""

from __future__ import annotations

import csv
import io

from api.machines.schemas import BucketedSeriesOut, SeriesOut


def series_csv(series: SeriesOut | BucketedSeriesOut) -> str:
    """`ts,value` per reading, or `ts,value,min,max,n` per bucket; timestamps RFC 3339 in UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if isinstance(series, BucketedSeriesOut):
        writer.writerow(["ts", "value", "min", "max", "n"])
        writer.writerows((p.ts.isoformat(), p.value, p.min, p.max, p.n) for p in series.points)
    else:
        writer.writerow(["ts", "value"])
        writer.writerows((p.ts.isoformat(), p.value) for p in series.points)
    return out.getvalue()
