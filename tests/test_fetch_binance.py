"""Fetch against a real HTTP server on 127.0.0.1 that answers like Binance's public endpoints.

The server builds responses in the documented JSON shapes (klines arrays, fundingRate and
openInterestHist objects) for whatever window is asked, honours ``limit`` (so pagination is
real), answers the first funding request with 429 + Retry-After, and 400 for an unknown symbol.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from flushwatch.ingest.market.fetch import MarketFetchOptions, fetch
from flushwatch.storage.db import Database

NOW = dt.datetime(2025, 1, 2, 0, 0, 30, tzinfo=dt.UTC)
MIN = 60_000


class FakeBinance(BaseHTTPRequestHandler):
    log: ClassVar[list[tuple[str, dict[str, str]]]] = []
    throttled: ClassVar[set[str]] = set()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-MBX-USED-WEIGHT-1M", "10")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.log.append((url.path, q))
        if q.get("symbol") == "NOPEUSDT":
            return self._send(400, {"code": -1121, "msg": "Invalid symbol."})
        start, end, limit = int(q.get("startTime", 0)), int(q.get("endTime", 0)), int(q.get("limit", 500))
        if url.path in ("/fapi/v1/klines", "/api/v3/klines"):
            first = -(-start // MIN) * MIN
            rows = []
            for t in range(first, end + 1, MIN):
                if len(rows) == min(limit, 1500 if "fapi" in url.path else 1000):
                    break
                i = t // MIN
                o = 100 + i % 7
                rows.append(
                    [
                        t,
                        f"{o:.2f}",
                        f"{o + 1:.2f}",
                        f"{o - 1:.2f}",
                        f"{o + 0.5:.2f}",
                        "12.5",
                        t + MIN - 1,
                        "1250.0",
                        42,
                        "6.0",
                        "600.0",
                        "0",
                    ]
                )
            return self._send(200, rows)
        if url.path == "/fapi/v1/fundingRate":
            if "funding" not in self.throttled:
                self.throttled.add("funding")
                return self._send(429, {"code": -1003, "msg": "Too many requests"}, {"Retry-After": "3"})
            step = 8 * 3600_000
            rows = [
                {
                    "symbol": q["symbol"],
                    "fundingTime": t + 3,
                    "fundingRate": "0.00010000",
                    "markPrice": "100.5",
                }
                for t in range(-(-start // step) * step, end + 1, step)
            ][:limit]
            return self._send(200, rows)
        if url.path == "/futures/data/openInterestHist":
            step = 5 * MIN
            rows = [
                {
                    "symbol": q["symbol"],
                    "sumOpenInterest": "1000.5",
                    "sumOpenInterestValue": "100050.0",
                    "timestamp": t,
                }
                for t in range(-(-start // step) * step, end + 1, step)
            ][:limit]
            return self._send(200, rows)
        return self._send(404, {"code": -1, "msg": "not found"})


@pytest.fixture
def server() -> Iterator[str]:
    FakeBinance.log = []
    FakeBinance.throttled = set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeBinance)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _count(db: Database, sql: str) -> int:
    with db.read() as con:
        row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_fetch_paginates_backs_off_and_fills_gaps(server: str, db: Database) -> None:
    sleeps: list[float] = []
    opts = MarketFetchOptions(
        symbols=("BTCUSDT",), since=dt.timedelta(hours=48), fapi=server, spot=server, now=NOW
    )
    summary = fetch(db, opts, sleep=sleeps.append)
    assert summary.failures == []
    by = {(s.dataset, s.market): s for s in summary.series}
    # 2024-12-31 00:00 .. 2025-01-01 23:59 = 2,880 closed 1m bars: 2 perp pages (1,500), 3 spot pages (1,000)
    assert (by["klines", "perp"].rows_new, by["klines", "perp"].requests) == (2880, 2)
    assert (by["klines", "spot"].rows_new, by["klines", "spot"].requests) == (2880, 3)
    assert sleeps == [3.0]  # the 429's Retry-After, honoured once
    assert (
        by["funding", "perp"].requests == 2 and by["funding", "perp"].rows_new == 7
    )  # 00:00, 08:00, 16:00 x2 + 01-02 00:00
    assert _count(db, "SELECT count(*) FROM funding_rates WHERE epoch_ms(funding_time) % 1000 <> 0") == 0
    assert by["open_interest", "perp"].rows_new == 576  # 48 h of 5m points, last complete 23:55
    assert _count(db, "SELECT count(*) FROM candles") == 5760

    # A repeat run asks only for what is missing: punch a gap and run again.
    with db.write() as con:
        con.execute(
            "DELETE FROM candles WHERE market = 'perp' AND open_time >= TIMESTAMPTZ '2025-01-01 10:00:00+00' "
            "AND open_time < TIMESTAMPTZ '2025-01-01 11:00:00+00'"
        )
    FakeBinance.log.clear()
    again = fetch(db, opts, sleep=sleeps.append)
    kl = [q for path, q in FakeBinance.log if path.endswith("klines")]
    assert len(kl) == 1 and "fapi" not in kl[0].get("x", "")
    gap_start = int(dt.datetime(2025, 1, 1, 10, tzinfo=dt.UTC).timestamp() * 1000)
    assert int(kl[0]["startTime"]) == gap_start and int(kl[0]["endTime"]) == gap_start + 60 * MIN - 1
    assert {(s.dataset, s.market): s.rows_new for s in again.series}[("klines", "perp")] == 60
    assert again.rows_new == 60
    assert _count(db, "SELECT count(*) FROM candles") == 5760
    assert [p for p, _ in FakeBinance.log if p == "/futures/data/openInterestHist"] == []


def test_failed_series_is_reported_and_others_kept(server: str, db: Database) -> None:
    opts = MarketFetchOptions(
        symbols=("NOPEUSDT", "ETHUSDT"),
        since=dt.timedelta(hours=1),
        fapi=server,
        spot=server,
        now=NOW,
        datasets=("klines",),
        markets=("perp",),
    )
    summary = fetch(db, opts, sleep=lambda s: None)
    assert len(summary.failures) == 1 and "NOPEUSDT" in summary.failures[0] and "400" in summary.failures[0]
    assert _count(db, "SELECT count(*) FROM candles WHERE symbol = 'ETHUSDT'") == 60


def test_cli_fetch_exit_3_on_partial(
    server: str, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUSHWATCH_BINANCE_FAPI_URL", server)
    monkeypatch.setenv("FLUSHWATCH_BINANCE_API_URL", server)
    res = cli(
        "market",
        "fetch",
        "--db",
        str(tmp_path / "f.duckdb"),
        "--symbols",
        "ETHUSDT,NOPEUSDT",
        "--since",
        "30m",
        "--datasets",
        "klines",
        "--markets",
        "perp",
        "--format",
        "csv",
    )
    assert res.code == 3, res.err
    assert "ETHUSDT" in res.out and "Invalid symbol" in res.err


class Teapot(BaseHTTPRequestHandler):
    """Answers 418 (IP banned for ignoring 429s) once with Retry-After, then an empty kline page."""

    hits: ClassVar[int] = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Teapot.hits += 1
        status, body, extra = (
            (418, b'{"code":-1003,"msg":"banned"}', {"Retry-After": "7"})
            if Teapot.hits == 1
            else (200, b"[]", {})
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def test_418_waits_retry_after_and_weight_budget_sleeps() -> None:
    from flushwatch.ingest.market.binance_rest import WEIGHT_LIMIT, BinanceClient

    Teapot.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Teapot)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    sleeps: list[float] = []
    try:
        with BinanceClient(fapi=url, spot=url, sleep=sleeps.append) as client:
            assert client.get("fapi", "/fapi/v1/klines", {"symbol": "BTCUSDT"}, weight=10) == []
            assert sleeps == [7.0]
            # Spend the minute's budget: the next call must wait for the next minute first.
            client._used["fapi"] = (time.time() // 60, int(WEIGHT_LIMIT["fapi"] * 0.8))
            client.get("fapi", "/fapi/v1/klines", {"symbol": "BTCUSDT"}, weight=10)
            assert len(sleeps) == 2 and 0 < sleeps[1] <= 61
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- a host that cannot be reached ---------------------------------------------------------------


def _closed_port_url() -> str:
    """A loopback URL nothing listens on: every connect is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_host_gives_up_after_one_series(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """No network: the first series spends its retries, the other 23 are not attempted (one
    log line), instead of each of the 24 spending its own ~15 s of backoff."""
    from flushwatch.ingest.market.binance_rest import BinanceClient
    from flushwatch.ingest.market.fetch import DEFAULT_SYMBOLS

    url = _closed_port_url()
    sleeps: list[float] = []
    opts = MarketFetchOptions(
        symbols=DEFAULT_SYMBOLS, since=dt.timedelta(hours=1), fapi=url, spot=url, now=NOW
    )
    with caplog.at_level("WARNING"):
        summary = fetch(db, opts, sleep=sleeps.append)
    attempts = BinanceClient.retries + 1
    assert len(summary.series) == 24 and len(summary.failures) == 24  # still a partial failure: exit 3
    assert [s.requests for s in summary.series] == [attempts] + [0] * 23
    assert len(sleeps) == attempts - 1  # one series' backoff, not 24
    assert "Connection refused" in summary.failures[0]
    assert all("not attempted" in f for f in summary.failures[1:])
    skipped = [r.getMessage() for r in caplog.records if "not attempted" in r.getMessage()]
    assert len(skipped) == 1 and "23 of 24 series not attempted" in skipped[0]


def test_second_unreachable_host_gets_one_attempt(db: Database) -> None:
    """fapi and spot are different hosts: once one is down, the other is not retried either."""
    fapi, spot = _closed_port_url(), _closed_port_url()
    opts = MarketFetchOptions(
        symbols=("BTCUSDT", "ETHUSDT"), since=dt.timedelta(hours=1), fapi=fapi, spot=spot, now=NOW
    )
    summary = fetch(db, opts, sleep=lambda s: None)
    by = {(s.dataset, s.market, s.symbol): s.requests for s in summary.series}
    assert by["klines", "perp", "BTCUSDT"] == 5 and by["klines", "spot", "BTCUSDT"] == 1
    assert sum(by.values()) == 6 and len(summary.failures) == 8


class Unavailable(BaseHTTPRequestHandler):
    """A host that answers, with 503 every time: not unreachable, so every series is tried."""

    hits: ClassVar[int] = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Unavailable.hits += 1
        body = b'{"code":-1001,"msg":"busy"}'
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_http_errors_do_not_count_as_unreachable(db: Database) -> None:
    Unavailable.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        opts = MarketFetchOptions(
            symbols=("BTCUSDT", "ETHUSDT"),
            since=dt.timedelta(hours=1),
            fapi=url,
            spot=url,
            now=NOW,
            datasets=("klines",),
            markets=("perp",),
        )
        summary = fetch(db, opts, sleep=lambda s: None)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert Unavailable.hits == 10  # 2 series x 5 attempts, counted by the server
    assert all("503" in f and "not attempted" not in f for f in summary.failures)


def test_cli_fetch_without_network_exits_3_after_one_series(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    import flushwatch.ingest.market.fetch as fetch_mod
    from flushwatch.ingest.market.binance_rest import BinanceClient

    sleeps: list[float] = []
    monkeypatch.setattr(fetch_mod, "BinanceClient", functools.partial(BinanceClient, sleep=sleeps.append))
    url = _closed_port_url()
    monkeypatch.setenv("FLUSHWATCH_BINANCE_FAPI_URL", url)
    monkeypatch.setenv("FLUSHWATCH_BINANCE_API_URL", url)
    res = cli("market", "fetch", "--db", str(tmp_path / "n.duckdb"), "--since", "1h", "--format", "csv")
    assert res.code == 3, res.err
    rows = res.out.strip().splitlines()[1:]
    assert len(rows) == 24 and [r.split(",")[3] for r in rows] == ["5"] + ["0"] * 23
    assert len(sleeps) == 4
    skipped = [line for line in res.err.splitlines() if "not attempted" in line]
    assert len(skipped) == 1 and "23 of 24 series not attempted" in skipped[0]  # one line, not 23
    assert "Traceback" not in res.err


def test_invalid_rest_url_is_a_config_error(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUSHWATCH_BINANCE_FAPI_URL", "ftp://127.0.0.1:1")
    res = cli("market", "fetch", "--db", str(tmp_path / "c.duckdb"), "--since", "1h")
    assert res.code == 2 and "FLUSHWATCH_BINANCE_FAPI_URL" in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
