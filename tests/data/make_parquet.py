"""Parquet copies of the bundled bars, written by pyarrow 21 (as a quant's pandas / polars stack
writes them), for tests/cli.rs: aapl_yahoo.parquet (Yahoo's column names, `Date` as date32,
snappy) and long_zstd.parquet (a long file of aapl and msft: `timestamp` as timestamp[ms, UTC],
`ticker` as a string, zstd). Run from the repository root with pyarrow==21.0.0."""
import csv

import pyarrow as pa
import pyarrow.parquet as pq


def rows(ticker):
    with open(f"examples/data/{ticker.upper()}.csv") as f:
        return list(csv.DictReader(f))


def floats(rs, key):
    return pa.array([float(r[key]) for r in rs], pa.float64())


aapl = rows("aapl")
dates = pa.array([r["date"] for r in aapl]).cast(pa.date32())
yahoo = pa.table({
    "Date": dates,
    "Open": floats(aapl, "open"), "High": floats(aapl, "high"), "Low": floats(aapl, "low"),
    "Close": floats(aapl, "close"), "Adj Close": floats(aapl, "adj_close"),
    "Volume": pa.array([int(float(r["volume"])) for r in aapl], pa.int64()),
})
pq.write_table(yahoo, "tests/data/aapl_yahoo.parquet", compression="snappy")

long = [(r["date"], t, r) for t in ["aapl", "msft"] for r in rows(t)]
long.sort(key=lambda x: (x[0], x[1]))
stamps = pa.array([d + "T00:00:00Z" for d, _, _ in long]).cast(pa.timestamp("ms", tz="UTC"))
table = pa.table({
    "timestamp": stamps,
    "ticker": pa.array([t for _, t, _ in long]),
    **{k: pa.array([float(r[k]) for _, _, r in long], pa.float64())
       for k in ["open", "high", "low", "close", "volume", "adj_close"]},
})
pq.write_table(table, "tests/data/long_zstd.parquet", compression="zstd")
