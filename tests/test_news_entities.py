"""Entity tags: exchanges, issuers, regulators, central banks and macro drivers named in a title
add the assets they move (``data/entities.toml``), with method ``entity:<id>``."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest

from flushwatch.ingest.news.assets import MARKET, default_dictionary, tag_assets
from flushwatch.ingest.news.batch import store_headlines
from flushwatch.ingest.news.entities import KINDS, MACRO, build_catalogue, default_catalogue
from flushwatch.ingest.news.normalise import normalise_item
from flushwatch.records.news import RawItem
from flushwatch.storage.db import Database


def _tags(title: str, **kw: bool) -> dict[str, str]:
    """asset -> method; the test titles never carry an ambiguous tag."""
    return {t.asset: t.method for t in tag_assets(title, **kw)}


def _entity_tags(title: str) -> dict[str, str]:
    return {a: m for a, m in _tags(title).items() if m.startswith("entity:")}


# -- the catalogue file ---------------------------------------------------------------------------


def test_catalogue_loads_and_every_moved_asset_is_in_the_dictionary() -> None:
    catalogue = default_catalogue()
    tickers = default_dictionary().tickers
    assert 120 <= len(catalogue) <= 200
    for entity in catalogue.entities:
        assert entity.moves, entity.key
        assert set(entity.moves) <= tickers | {MARKET, MACRO}, entity.key
        assert MACRO not in entity.moves or MARKET in entity.moves, entity.key
        assert entity.kind in KINDS, entity.key
    kinds = {e.kind for e in catalogue.entities}
    assert {"exchange", "lender", "stablecoin", "regulator", "central_bank", "person"} <= kinds


def test_catalogue_file_is_the_shipped_one() -> None:
    text = resources.files("flushwatch.ingest.news").joinpath("data", "entities.toml").read_text("utf-8")
    assert len(build_catalogue(text, default_dictionary().tickers)) == len(default_catalogue())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('x = { name = "X", kind = "exchange", moves = ["NOPE", "MARKET"] }', "not in the asset dictionary"),
        ('x = { name = "X", kind = "exchange", moves = [] }', "not in the asset dictionary"),
        ('x = { name = "X", kind = "central_bank", moves = ["MACRO"] }', "MACRO must come with MARKET"),
        ('x = { name = "X", kind = "club", moves = ["MARKET"] }', "unknown kind"),
        (
            'x = { name = "X", kind = "fund", moves = ["MARKET"] }\n'
            'y = { name = "Y", kind = "fund", moves = ["MARKET"], aliases = ["x"] }',
            "already x",
        ),
        ('x = { name = "X", kind = "fund", moves = ["MARKET"], exact = ["X"], unless = ["_ _"] }', "guard"),
    ],
)
def test_catalogue_mistakes_are_refused(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_catalogue("[entities]\n" + body, frozenset({"BTC"}))


# -- what a title is tagged with --------------------------------------------------------------------


def test_exchange_tags_its_token_and_the_market() -> None:
    assert _tags("FTX halts withdrawals as rescue talks stall") == {"FTT": "entity:ftx", MARKET: "entity:ftx"}
    assert _tags("OKX pauses deposits for an upgrade") == {"OKB": "entity:okx", MARKET: "entity:okx"}
    # No token of its own: the market only.
    assert _tags("Coinbase's app goes down during the rush") == {MARKET: "entity:coinbase"}
    # Every entity in the title counts.
    assert _entity_tags("Binance walks away from the FTX deal") == {
        "BNB": "entity:binance",
        MARKET: "entity:binance",
        "FTT": "entity:ftx",
    }


def test_lender_issuer_and_person() -> None:
    assert _tags("BlockFi limits withdrawals") == {MARKET: "entity:blockfi"}
    assert _entity_tags("Circle mints another billion")["USDC"] == "entity:circle"
    assert _tags("Do Kwon unveils a rescue plan") == {
        "LUNA": "entity:do_kwon",
        "UST": "entity:do_kwon",
        MARKET: "entity:do_kwon",
    }
    assert _tags("CZ answers critics on the proof of reserves") == {"BNB": "entity:cz", MARKET: "entity:cz"}
    assert _tags("Saylor hints at another purchase") == {"BTC": "entity:saylor"}


def test_regulator_tags_the_market_only() -> None:
    assert _tags("FCA warns about unregistered crypto firms") == {MARKET: "entity:fca"}
    assert _tags("OCC lets national banks hold customer keys") == {MARKET: "entity:occ"}
    # The SEC's MARKET row keeps the market keyword's method; the entity adds nothing more.
    got = _tags("SEC delays its decision on the spot ETF")
    assert got == {MARKET: "market"}


@pytest.mark.parametrize(
    ("title", "entity"),
    [
        ("Powell signals more hikes ahead", "fed"),
        ("Fed holds steady and hints at patience", "fed"),
        ("Traders brace for the FOMC decision", "fed"),
        ("CPI comes in hotter than expected", "inflation"),
        ("ECB's Lagarde says the fight is not over", "ecb"),
        ("BoJ raises its policy rate for the first time in years", "boj"),
        ("New tariffs rattle risk appetite", "tariffs"),
        ("Russia invades Ukraine, markets tumble", "russia_ukraine"),
    ],
)
def test_central_banks_and_macro_drivers_tag_macro_and_market(title: str, entity: str) -> None:
    got = _tags(title)
    assert got[MACRO] == f"entity:{entity}"
    assert MARKET in got  # from the entity or, first, from a market keyword


def test_words_containing_an_acronym_do_not_match() -> None:
    for title in (
        "Miners post a second record month as they secure new funding",
        "Secondary market for locked tokens grows",
        "FEDERATED LEARNING MEETS BLOCKCHAIN",
    ):
        assert _tags(title) == {}, title
    # The acronym forms are exact-case: "sec" for seconds is not the SEC.
    assert _entity_tags("Exchange outage lasts 40 sec, users say") == {}


def test_capitalised_word_forms_need_the_right_case_and_context() -> None:
    assert _tags("Fed up with fees, users move to self-custody").get(MACRO) is None
    assert _tags("A simple trading strategy for choppy weeks") == {}
    assert _tags("Strategy adds to its holdings again") == {"BTC": "entity:strategy"}
    assert _tags("Traders come full Circle on stablecoin yields") == {}
    assert _entity_tags("Tokenized Treasury funds pass $5B") == {}
    assert _tags("It hit 40 degrees Celsius in the data hall") == {"CEL": "name"}  # the asset's own rule


def test_gemini_the_exchange_not_the_ai_model_or_the_sign() -> None:
    assert _tags("Gemini files for an IPO") == {MARKET: "entity:gemini"}
    assert _tags("Gemini Earn users get their funds back") == {MARKET: "entity:gemini_earn"}
    assert _tags("Google's Gemini tops the coding benchmark") == {}
    assert _tags("Gemini 3 Pro is out") == {}
    assert _tags("Gemini horoscope for the week") == {}
    assert _tags("twins born under gemini") == {}


def test_longest_form_wins() -> None:
    # Kraken's co-founder, not the Fed chair.
    assert _tags("Jesse Powell lists the red flags") == {MARKET: "entity:kraken"}
    # An asset name longer than the entity's form: the coin, not the exchange.
    assert _tags("Binance Coin slides 4%") == {"BNB": "name"}
    assert _tags("Tether Gold demand jumps") == {"XAUT": "name"}


def test_entity_already_tagged_as_its_coin_is_not_doubled() -> None:
    tags = tag_assets("Hyperliquid volume hits a record")
    assert [t.asset for t in tags].count("HYPE") == 1
    assert {t.asset: t.method for t in tags} == {"HYPE": "name", MARKET: "entity:hyperliquid"}
    tags = tag_assets("BNB slides as Binance faces a new probe")
    assert [t.asset for t in tags].count("BNB") == 1
    assert {t.asset: t.method for t in tags} == {"BNB": "name", MARKET: "entity:binance"}


def test_entity_resolves_an_ambiguous_word_ticker() -> None:
    assert {t.asset: (t.method, t.ambiguous) for t in tag_assets("Why POL matters now")} == {
        "POL": ("ticker", True)
    }
    got = {t.asset: (t.method, t.ambiguous) for t in tag_assets("Why POL matters now, by Polygon Labs")}
    assert got == {"POL": ("entity:polygon_labs", False)}


def test_former_staff_and_foreign_bodies_are_not_the_entity() -> None:
    assert _tags("Ex-Paxos leaders start a payments firm") == {}
    assert _tags("Former Binance.US chief raises a seed round") == {}
    assert _tags("Brazil's Senate approves a crypto bill")[MARKET] == "entity:crypto_bill"
    assert "entity:us_congress" not in _tags("Brazil's Senate approves a crypto bill").values()


def test_default_market_still_applies_after_entities() -> None:
    # A macro feed's headline naming nothing gets MARKET; one naming an entity keeps its tags.
    assert _tags("Statement on payment systems", default_market=True) == {MARKET: "market"}
    assert _tags("Saylor hints at another purchase", default_market=True) == {"BTC": "entity:saylor"}


def test_entity_tags_are_stored_and_queryable(db: Database) -> None:
    at = dt.datetime(2022, 11, 8, 12, 0, tzinfo=dt.UTC)
    items = []
    for i, title in enumerate(("FTX halts withdrawals", "Powell signals more hikes")):
        h = normalise_item(
            RawItem(f"g{i}", None, title, None, at), source="W", first_seen=at, origin="import"
        )
        assert h is not None
        items.append(h)
    with db.write() as con:
        store_headlines(con, items, run_id=None, tagger=lambda h: tag_assets(h.title))
    with db.read() as con:
        rows = con.execute(
            "SELECT h.title, a.asset, a.method FROM headline_assets a JOIN headlines h USING (headline_id) "
            "WHERE a.method LIKE 'entity:%' ORDER BY h.title, a.asset"
        ).fetchall()
        assets = dict(con.execute("SELECT title, list_sort(assets) FROM v_headlines").fetchall())
    assert rows == [
        ("FTX halts withdrawals", "FTT", "entity:ftx"),
        ("FTX halts withdrawals", "MARKET", "entity:ftx"),
        ("Powell signals more hikes", "MACRO", "entity:fed"),
        ("Powell signals more hikes", "MARKET", "entity:fed"),
    ]
    assert assets == {
        "FTX halts withdrawals": ["FTT", "MARKET"],
        "Powell signals more hikes": ["MACRO", "MARKET"],
    }
