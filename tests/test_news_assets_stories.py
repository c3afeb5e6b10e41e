"""Asset tagging and story clustering: pure functions, plus the shipped dictionary's size."""

from __future__ import annotations

import datetime as dt

import pytest

from flushwatch.ingest.news.assets import default_dictionary, tag_assets
from flushwatch.ingest.news.stories import StoryInput, assign_stories

T0 = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def _tags(title: str, **kw: bool) -> dict[str, tuple[str, bool]]:
    return {t.asset: (t.method, t.ambiguous) for t in tag_assets(title, **kw)}


def test_dictionary_covers_top_200() -> None:
    d = default_dictionary()
    assert len(d) >= 200
    for ticker in ("BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "NEAR", "ONE", "GAS", "SUN"):
        assert ticker in d.tickers


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Bitcoin tops $70K as ether lags", {"BTC": ("name", False), "ETH": ("name", False)}),
        ("SOL and BTC slide in Asian hours", {"SOL": ("ticker", False), "BTC": ("ticker", False)}),
        ("Chainlink (LINK) jumps 9%", {"LINK": ("name", False)}),
        ("LINK price surges after staking launch", {"LINK": ("context", False)}),
        ("$NEAR rallies", {"NEAR": ("ticker", False)}),
        ("Harmony ONE bridge exploit drains funds", {"ONE": ("name", False)}),
    ],
)
def test_tags(title: str, expected: dict[str, tuple[str, bool]]) -> None:
    got = _tags(title)
    for asset, value in expected.items():
        assert got.get(asset) == value, (title, got)


def test_word_tickers_not_guessed() -> None:
    # Plain English: no coin at all.
    assert "NEAR" not in _tags("Bitcoin near record high") or _tags("Bitcoin near record high")["NEAR"][1]
    assert "ONE" not in _tags("One more rate hike is coming")
    assert "GAS" not in _tags("Gas prices drive inflation higher")
    # Capitals without context: recorded, flagged ambiguous, not resolved.
    assert _tags("Why NEAR matters now")["NEAR"] == ("ticker", True)
    # Other tickers in the same headline are context.
    assert _tags("BTC, ETH and DOT slide")["DOT"] == ("context", False)


def test_market_wide() -> None:
    assert "MARKET" in _tags("Fed raises interest rates by 75 basis points")
    assert "MARKET" in _tags("Crypto market sheds $200B as liquidations top $1B")
    assert "MARKET" in _tags("Treasury statement on payments", default_market=True)
    assert "MARKET" not in _tags("Solana validators restart network")


def _s(
    hid: int, source: str, title: str, minutes: int, assets: set[str], story: int | None = None
) -> StoryInput:
    return StoryInput(hid, source, title, T0 + dt.timedelta(minutes=minutes), frozenset(assets), story)


def test_same_event_from_several_outlets_is_one_story() -> None:
    recent = [_s(1, "A", "Binance agrees to acquire FTX amid liquidity crunch", 0, {"BNB", "FTT"}, story=10)]
    new = [
        _s(2, "B", "Binance signs deal to acquire rival FTX amid liquidity crunch", 20, {"BNB", "FTT"}),
        _s(3, "C", "Binance to acquire FTX after liquidity crunch", 45, {"BNB", "FTT"}),
        _s(4, "D", "Solana validators restart network after outage", 30, {"SOL"}),
        _s(
            5, "E", "Binance agrees to acquire FTX amid liquidity crunch", 60 * 20, {"BNB", "FTT"}
        ),  # outside 12 h
    ]
    got = assign_stories(new, recent)
    assert got[2] == 10 and got[3] == 10
    assert got[4] < 0 and got[5] < 0 and got[4] != got[5]


def test_story_blocking_scales_linearly() -> None:
    # 3,000 unrelated headlines: each lands in its own story and the pass stays cheap.
    new = [
        _s(i, "S", f"Token{i} project{i} announces upgrade{i} milestone{i}", i % 600, set())
        for i in range(3000)
    ]
    got = assign_stories(new, [])
    assert len(set(got.values())) == 3000


def test_people_names_that_coins_borrowed_need_coin_context() -> None:
    from flushwatch.ingest.news.assets import tag_assets

    macro = {t.asset for t in tag_assets("Trump announces another 100% tariff on Chinese imports")}
    assert "TRUMP" not in macro
    coin = {t.asset for t in tag_assets("TRUMP token jumps 20% ahead of the unlock")}
    assert "TRUMP" in coin
