# ruff: noqa: E501  (regex tables read better unwrapped)
"""Event type and "market report" flag from the title: a transparent keyword taxonomy.

Why rules first: no labelled crypto event data exists in the shared data, and a taxonomy a
reader can audit (and extend) beats an opaque classifier trained on the few hundred headlines
we labelled. But real headlines are more varied than any list of phrasings: the shipped event
type combines these rules with a learned head (:mod:`flushwatch.nlp.event_head`, applied by
:class:`flushwatch.nlp.rules.RuleSet`); this module stays rules only. Rules are tried in the order of
``_RAW_RULES``; the first matching type wins, so the more specific and more severe types (exchange trouble, depeg, hack) come before broad
ones (regulation, price analysis); three tie-breaks (``_tie_break``) settle known collisions.
Evaluated on headlines written for this project and on 2,000 real headlines of the shared data,
labelled by hand (a checkout's ``eval/`` folder; the real headlines are stored as keys only);
``flushwatch model eval`` prints the accuracy of each labelling round.

``severity`` (0..1) is how much an event of that type tends to move markets within the hour;
importance builds on it. Pure functions, no I/O, nothing heavy imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: (event type, severity 0..1, patterns). Order matters: first match wins.
_RAW_RULES: list[tuple[str, float, list[str]]] = [
    (
        "promotion_other",
        0.05,
        [
            r"\b(sponsored|newsletters?|podcasts?|webinars?|giveaways?|presales?|glossary|ama|conferences?|promo codes?|airdrop campaigns?)\b",
            r"\b\d+% off\b",
            r"^(win|join|meet|learn)\b",
            r"\+ more news\b",  # daily round-ups: several stories, none of them the event
            r"\b(best crypto to buy|top trending crypto|how to buy)\b",
        ],
    ),
    (
        "stablecoin_depeg",
        0.95,
        [
            r"\bde-?peg",
            r"\b(save|restore|defend)\w* (the |its )?(\S+ ){0,2}peg\b",
            r"\b(off|below|breaks?|broke|lost|loses?)\s+(its\s+)?(dollar\s+)?peg\b",
            r"\bpeg\b.*\b(break|lost|slip)",
            r"\b(usdt|usdc|dai|ust|busd|tether|stablecoin)\b.*\b(falls? (to|below)|drops? (to|below)|slips? below|trades? below) \$?0\.\d",
            r"\b(usdt|usdc|dai|ust|busd|tether|stablecoins?)\b.*\b\d{1,2} cents\b",
            r"\b(usdt|usdc|dai|tether|stablecoins?|dollar(-pegged)? tokens?)\b.*\b(trades? at a (steep |deep |sharp |wide )?discount|below (its )?par)\b",
        ],
    ),
    (
        "exchange_trouble",
        1.0,
        [
            r"\b(halts?|halted|halting|pauses?|paused|suspends?|suspended|freezes?|froze|frozen|stops?|stopped)\b.*\b(withdrawals?|deposits?|trading)\b",
            r"\b((enters|into|placed in) administration|creditor protection|receivership|winds? down|wind-down)\b",
            r"\b(withdrawals?|deposits?)\b.*\b(halted|paused|suspended|frozen)\b",
            r"\b(insolven\w*|solvency|bankrupt\w*|chapter 11|bank run|liquidity (crisis|crunch))\b",
            # "collapses", "has collapsed"; not the adjective ("founder of collapsed lender gets ..."),
            # whose news is something else
            r"\bcollapse[sd]?\b(?!\s+(crypto\s+)?(exchange|lender|lending|platform|firm|desk|fund|hedge fund|company|bank|broker|project|token)s?\b)",
            r"\b(freezes?|froze|frozen)\b.*\baccounts?\b",
            r"\b(cannot|can't|unable to) withdraw\b",
            r"\bpull(s|ed)? (their )?funds\b",
            r"\bhalts? (redemptions|payouts)\b",
            r"\b(glitch\w*|outage)\b.*\b(exchange|trading platform)\b|\b(exchange|trading platform)\b.*\b(glitch\w*|outage)\b",
            r"\b(shut(s|ting)? down|shutting|closes|closing)\b.*\b(exchange|trading platform)\b",
        ],
    ),
    (
        "hack_exploit",
        0.9,
        [
            r"\b(hack(ed|ers?|s)?|exploit(ed|s)?|drain(ed|s)?|(security|data) breach|breached|stolen|steals?|heist|attack(er|ers)?|hijack\w*|rug ?pull(ed)?|compromised|phishing)\b",
            r"\b(private keys?|security incident|siphon(s|ed)?|oracle manipulation|malware|scam\w*|impersonat\w*)\b",
            r"\bsuspicious (transfers?|transactions?|activity|withdrawals?|outflows?)\b",
        ],
    ),
    (
        "macro",
        0.75,
        [
            r"\b(fed|fomc|federal reserve|powell|ecb|boj|bank of (japan|england|canada)|central bank|rate[- ](hike|cut)s?|interest rates?|basis points|bps)\b",
            r"\b(cpi|inflation|pce|jobs report|payrolls|nonfarm|unemployment|jobless claims|gdp|recession|treasury yields?|bond yields?|(consumer|producer) prices|yield (spread|curve)|(rising|japan\w*|us|u\.s\.) yields)\b",
            r"\b(oil|crude|opec|refiner(y|ies)|airstrikes?|strike on)\b",
            r"\b(tariffs?|trade war|sanctions|war(?<!legal war)(?<!price war)(?! chest)|invasion|missile|ceasefire|geopolitic\w*)\b",
            r"\b(retaliatory|import|export|customs) (duties|levies|curbs|controls|bans?)\b|\btrade (deal|talks|tensions|truce)\b",
        ],
    ),
    (
        "etf_institutional",
        0.7,
        [
            r"\betfs?\b",
            r"\bexchange-traded\b",
            r"\b(custody|accumulat\w+ (bitcoin|btc|ether|eth))\b",
            r"\b(etp|spot fund|13f|blackrock|fidelity|grayscale|microstrategy|strategy buys|treasury (compan\w+|firms?)|ibit|gbtc|fbtc)\b",
            r"\b(companies|corporations|corporates|public firms) (bought|buy|are buying)\b",
            r"\b(solana|bitcoin|ether|eth|sol|crypto|digital asset) treasuries\b|\binstitutions\b|\bmstr\b",
            r"\b(inflows?|outflows?)\b",
            r"\b(bitcoin|btc|ether|eth|solana|crypto) (funds?|trusts?)\b",
            r"\binstitution\w*\b.*\b(buy|bought|adds?|purchase|allocat)\w*",
            r"\b(adds?|buys?|bought|purchases?|acquires?)\b.*\b\d[\d,.]*\s*(btc|bitcoin|eth|ether)\b",
        ],
    ),
    (
        "legal",
        0.6,
        [
            r"\b(lawsuit|sues|sued|suing|court|judge|jury|trial|verdict|sentenced|indict\w*|plead\w*|guilty|class action|arrest\w*|extradit\w*|prison|jail)\b",
            r"\b(prosecut\w*|sentenc\w*|charged with|criminal charges|fraud)\b",
            r"\b(insider trading|inside information|copyright|legal (war|action|battle|defen[cs]e))\b",
            r"\b(hearings?|ordered to pay|launder\w*|pardon\w*)\b",
        ],
    ),
    (
        "regulation",
        0.8,
        [
            r"\b(sec|cftc|watchdog|authorit\w+|rules|regulat\w*|tax(es|ed|ation)?|enforcement|ban(s|ned)?|crackdown|licen[cs]\w*|compliance|legislat\w*|bill|senate|congress|lawmakers?|mica|aml|kyc|fines?d?|penalt\w*|wells notice|subpoena\w*|probe|investigat\w*|sanction\w*)\b",
            r"\b(gets?|wins?|receives?|secures?|grants?) (regulatory )?(nod|approval|green light)\b|\bgreen light\b",
            r"\b(fatf|guidelines|guidance|laws?|permission|fsb|financial stability board|lobby\w*|market structure|legali[sz]\w*|political donations|election campaigns?|national security strategy|government affairs)\b",
        ],
    ),
    (
        "listing",
        0.5,
        [
            r"\b(lists?|listing|listed|delist\w*|will add|adds? support for|launch(es)? trading|perpetual contract for|opens trading)\b",
            r"\b(to add|will add|adds?)\b.*\b(tokens?|coins?|trading pairs?)\b",
            r"\b(will remove|removes?|removing|drops? support for|ends? support for|ends? trading (of|in|for))\b.*\b(tokens?|coins?|pairs?|platform)\b",
        ],
    ),
    (
        "protocol",
        0.55,
        [
            r"\b(new version|software update|client update|hotfix)\b",
            r"\b(upgrade|hard ?fork|soft ?fork|mainnet|testnet|outage|downtime|halted block|network (halt|down|stall)|block production|validators?|merge|shanghai|dencun|bug|patch|node|client release|migrat\w*)\b",
            # the halving as the event, not as a date ("could revisit $50,000 before the halving")
            r"\bhalving\b(?<!before the halving)(?<!after the halving)(?<!ahead of the halving)(?<!since the halving)(?<!until the halving)",
            r"\b(stops?|stopped|halts?|halted|resumes?|resumed|pauses?|paused) (producing|processing|finali[sz]ing) (blocks|transactions)\b",
            r"\b(chain|network|mainnet|layer-?2|blockchain) (halts?|halted|stalls?|stalled|goes down|went down)\b",
            r"\b(governance|proposal|dao|protocol fees?|voters)\b",
            r"\b(proof-of-(stake|work)|consensus|interoperability|lightning network|sidechains?|revival plan)\b",
        ],
    ),
    (
        "whale_onchain",
        0.45,
        [
            r"\bwhales?\b",
            r"\b(dormant|on-?chain|wallet|address)\b.*\b(moves?|moved|transfers?|transferred|sends?|sent|wakes?)\b",
            r"\b(moves?|moved|transfers?|transferred|sends?|sent|deposits?|deposited)\b.*\bto (binance|coinbase|kraken|an exchange|exchanges)\b",
            r"\b(wallet|address)\b.*\b(buys?|bought|sells?|sold|accumulat\w*)\b|\b(large|big) (bitcoin |btc |ether |eth )?holders\b|\bshare of supply\b",
            r"\b(exchange|binance|coinbase|kraken) (reserves?|balances?|netflows?)\b",
            r"\bon-?chain (metrics?|data|activity|volume|velocity)\b|\bnetwork activity\b",
            r"\bmint(s|ed)?\b",
            r"\bholders?\b.*\bmov(e|es|ed|ing)\b",
            r"\bburn(ed|s)?\b",
        ],
    ),
    (
        "partnership_adoption",
        0.35,
        [
            r"\bexpands?\b.*\b(settlement|payments?|support|services?|access)\b",
            r"\b(adds?|offers?|enables?|introduces?|lets)\b.*\b(stablecoin|crypto|bitcoin|usdc) (payments?|payouts?|settlements?|transfers|rewards|checkout)\b",
            r"\b(partner\w*|teams up|collaborat\w*|integrat\w*|adopt\w*|accepts? (bitcoin|crypto|btc)|accept(s|ing)? (crypto|bitcoin|btc|payments)|legal tender|pilots?|rolls? out|launch\w*|joins?|backs|backed by|invest\w* in|raises? \$)\b",
            r"\b(to acquire|acquires?|acquisition|acquired|buys|buying|funding round|raises? (usd )?\$?\d|valuation|valued at|merger|ipo|go(es)? public|buyout|takeover|outbid\w*)\b",
            r"\b(expan(ds?|ded|sion)|accepts?|onboards?|offers? \w+ (services|access)|tokeni[sz]\w*|bond issuance)\b",
            r"\b(taps|now supports?|supports? \w+ chain|tests?|unveils?|allows?|get paid in|paid in|payments?|relaunch\w*|rebrands?|deal|agreement|nfts?)\b",
        ],
    ),
    (
        "market_move",
        0.3,
        [
            r"\bliquidat\w*\b",
            r"\b(short|long) squeeze\b",
            _UP
            := r"\b(surges?|soars?|jumps?|rall(y|ies|ied)|spikes?|climbs?|rises?|gains?|pumps?|rebounds?|recovers?|skyrockets?|tops|topped|top(?= \$)|breaks? above|hits? (new )?(all-time )?high|ath)\b",
            _DOWN
            := r"\b(plunges?|plummets?|tumbles?|crash(es|ed)?|drops?|falls?|slides?|sinks?|dips?|dives?|slips?|dumps?|slumps?|tanks?|sell-?off|bleeds?|breaks? below|falls? below|breaks? (key )?support|wipes? out)\b",
            r"[-+]?\d+(\.\d+)?\s?%",
        ],
    ),
    (
        "analysis_opinion",
        0.15,
        [
            r"\b(strategists?|sees|topping out|calls? (a|the) (top|bottom))\b",
            r"\b(analysts?|analysis|predicts?|prediction|forecast|outlook|could|might|may|will .* (reach|hit)|price target|technical|chart|support|resistance|says|thinks|believes|expects?|why|how|what|opinion|bullish|bearish|indicators?|signal|suggests?|means|here's)\b",
            r"\?\s*$",
            r"\b(urges?|claims?|narrative|case for|future of|is key|hinges? on|sentiment|premium|metrics?|capitulation|bull run|bear market|upside|downside|op-ed|survey|respondents|outperform\w*|underperform\w*|upgrades?|downgrades?|rsi|macd|breakout|moving average|ceo|founder|co-founder|exec|executive|can"
            r"|to watch|pros and cons|understanding|reasons? behind|momentum|advises?|themes?|u-turn|promise)\b",
        ],
    ),
]


class _Rx:
    """A lower-case pattern compiled twice, searched like the rule tables: ASCII text lower-cased
    without IGNORECASE (about twice as fast in ``re``), other text with IGNORECASE and its
    Unicode case folding. The same answers either way (tested)."""

    __slots__ = ("_any", "_low")

    def __init__(self, pattern: str) -> None:
        self._low = re.compile(pattern)
        self._any = re.compile(pattern, re.IGNORECASE)

    def search(self, text: str) -> re.Match[str] | None:
        return self._low.search(text.lower()) if text.isascii() else self._any.search(text)

    def findall(self, text: str) -> list[Any]:
        return self._low.findall(text.lower()) if text.isascii() else self._any.findall(text)


#: Every rule pattern as an ``_Rx``, by type, and one alternation per type, tried first: most
#: titles match few types, so one search rules a whole type out, and only the winning type has
#: its patterns counted. Exact: an alternation of patterns (no back-references among them)
#: matches iff one of them does.
_TYPE_PATTERNS: dict[str, list[_Rx]] = {name: [_Rx(p) for p in pats] for name, _, pats in _RAW_RULES}
_TYPE_ANY: list[tuple[str, _Rx]] = [
    (name, _Rx("|".join(f"(?:{p})" for p in pats))) for name, _, pats in _RAW_RULES
]
OTHER = "promotion_other"
SEVERITY: dict[str, float] = {name: sev for name, sev, _ in _RAW_RULES}
EVENT_TYPES: tuple[str, ...] = tuple(SEVERITY)  # rule order, ``OTHER`` first
#: Types that explain a move; a clause naming one of them makes a headline more than coverage.
_NOT_CAUSES = frozenset({"market_move", "analysis_opinion", OTHER})
#: Types specific enough that naming one anywhere makes a title news, not coverage ("US jobless
#: claims jump to highest since 2021", "DAI wobbles off its peg as collateral is liquidated"),
#: so the event head may not call it a market move either. The broad types (listing, protocol,
#: whale, partnership) only count in a cause clause: their words ("backs off", "tops the list")
#: also describe moves.
CAUSE_TYPES = frozenset(
    {
        "stablecoin_depeg",
        "exchange_trouble",
        "hack_exploit",
        "macro",
        "etf_institutional",
        "legal",
        "regulation",
    }
)


# A market report names a move and a size (or liquidations), and no cause.
_MOVE = _Rx(_UP + "|" + _DOWN)
_SIZE = _Rx(
    r"[-+]?\d+(\.\d+)?\s?%|\$\s?\d[\d,.]*\s?(k|m|b|bn|million|billion)?\b|\b\d[\d,.]*\s?(k|m|b|bn|million|billion)\b"
    r"|\busd\s?\d[\d,.]*\s?(k|m|b|bn)?\b"
    r"|\b(all-time high|ath|\d+-(day|week|month|year) (high|low)|(lowest|highest) (level|since))\b"
)
#: Sizeless coverage: a streak or a colour ("4th red candle", "turn red"), or a second move in a
#: round-up of several coins ("Bitcoin and Ethereum Consolidate, ADA, APE ... Rally").
_STREAK = _Rx(
    r"\b(\d+(st|nd|rd|th)|\w+-(day|week|month)|consecutive|straight) (\w+ ){0,2}(candles?|days?|weeks?|months?)\b"
    r"|\bturn(s|ed)? (red|green)\b|\bin (the )?(red|green)\b|\b(losing|winning|negative|positive) streak\b"
)
_FLAT_MOVE = _Rx(
    r"\b(consolidat\w*|extends? (its )?(losses|gains|rally)|holds? (its )?gains|(keeps?|continues?) moving (higher|lower)|trims? gains|washout|hits? \$\d|(lowest|highest) (weekly|daily|monthly) close|(red|green) (\w+ )?candles?|candles? in (the )?(red|green)|inch(es)? (higher|lower|up|down)|trades? (higher|lower)|trimming gains|fluctuat\w*|range-bound|struggles?|loses? (its )?bid|turns? defensive|winners|losers|moved the most|fades?)"
)
#: A forecast or a view about a move is opinion, not coverage of one ("may crash below $1",
#: "Hayes warns of a $60K crash", "why it can only go up from here").
_OPINION = _Rx(
    r"\b(may|might|could|would|warns?|predicts?|forecasts?|expects?|pundits?|experts?|why|here's|here are|calling a (top|bottom)|suggests?|setup|death cross|golden cross|upgrades?|downgrades?"
    r"|eyes|pattern|sentiment|volatility|leverage|options expir\w*)\b|\?"
)
_LIQ = _Rx(r"\bliquidat\w*\b|\b(short|long) squeeze\b|\bwiped out\b")
_CAUSE_WORD = _Rx(r"\b(after|as|amid|following|because|due to|despite|on|while)\b\s+(.*)$")


@dataclass(frozen=True)
class EventGuess:
    event_type: str
    confidence: float  # 0..1: 0.9 when one rule type fired, lower when several competed
    severity: float
    is_market_report: bool


def _types(text: str) -> list[str]:
    """Every type with a matching pattern, in rule order (one alternation search per type; the
    ASCII title is lower-cased once for all of them rather than once per ``_Rx.search``)."""
    if text.isascii():
        low = text.lower()
        return [n for n, rx in _TYPE_ANY if rx._low.search(low)]
    return [n for n, rx in _TYPE_ANY if rx._any.search(text)]


def _hits(name: str, text: str) -> int:
    """How many of ``name``'s patterns match: the confidence of the type that wins (only it is
    counted; counting every matching type's patterns cost a fifth of the rules' time)."""
    return sum(1 for rx in _TYPE_PATTERNS[name] if rx.search(text))


def _names_a_cause(title: str) -> bool:
    """True when a clause after 'after/as/amid/on ...' names an event that explains the move."""
    m = _CAUSE_WORD.search(title)
    if m is None:
        return False
    return any(n not in _NOT_CAUSES for n in _types(m.group(2)))


def _is_report(title: str) -> bool:
    """Coverage of a move: liquidations, or a move with a size, a streak or a second move, and
    no cause in an 'after/as/amid ...' clause. The caller has ruled out a view of a move and a
    specific cause type anywhere; the clause is checked last, as the dearest test."""
    if not _LIQ.search(title):
        moves = len(_MOVE.findall(title)) + len(_FLAT_MOVE.findall(title))
        if not (moves > 0 and (_SIZE.search(title) or _STREAK.search(title) or moves > 1)):
            return False
    return not _names_a_cause(title)


#: Words of monetary policy: a central bank or the Treasury acting on rates, not on crypto.
_MONETARY = _Rx(
    r"\b(rates?|rate[- ](hike|cut)s?|inflation|cpi|yields?|basis points|bps|tightening|easing|qe|balance sheet|recession)\b"
)
_CRYPTO_POLICY = _Rx(
    r"\b(crypto\w*|digital[- ]currenc\w*|cbdc|stablecoins?|mixers?|bitcoin|defi|exchanges?|tokens?)\b"
)
_STATE_BODY = _Rx(r"\b(central bank|treasury)\b")
_COURT = _Rx(
    r"\b(court|judge|jury|trial|hearings?|sentenced|indict\w*|plead\w*|guilty|arrest\w*|extradit\w*|prison|jail|charged)\b"
)
_REGULATOR_ACTS = _Rx(
    r"\b(sec|cftc|finra|fca|doj|regulators?|watchdog|attorneys? general)\b.*\b(sues|sued|suing|charges|fines?d?|settles?)\b"
)


def _tie_break(title: str, matched: list[str]) -> str:
    """The winning type: the first that matched, unless that is the wrong reading of a known collision.

    - a central bank or Treasury acting on crypto (a ban, sanctions on a mixer, a digital
      currency) is regulation, not macro, unless the title also speaks of rates or inflation;
    - a hack in court (hearing, sentence, arrest) is legal news;
    - a regulator suing or fining is regulation (enforcement), not a private lawsuit.
    """
    top = matched[0]
    state_acts = top == "macro" and ("regulation" in matched or _STATE_BODY.search(title))
    if state_acts and _CRYPTO_POLICY.search(title) and not _MONETARY.search(title):
        return "regulation"
    if top == "hack_exploit" and "legal" in matched and _COURT.search(title):
        return "legal"
    if top == "legal" and "regulation" in matched and _REGULATOR_ACTS.search(title):
        return "regulation"
    return top


#: Typographic punctuation as its ASCII twin: the patterns are written with ASCII quotes and
#: dashes ("here's", "can't"), and a title that is ASCII after this takes the lower-case fast
#: path (a fifth of real headlines carry a curly quote or a long dash, nothing else non-ASCII).
_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2011": "-",
        "\u2015": "-",
        "\u2026": "...",
        "\xa0": " ",
        "\u200b": "",
    }
)


def classify_event(title: str) -> EventGuess:
    """Event type, confidence, severity and the market-report flag for one title (pure)."""
    title = title.translate(_PUNCT)
    matched = _types(title)
    view = _OPINION.search(title) is not None
    specific = any(n in CAUSE_TYPES for n in matched)  # news named anywhere in the title
    about_a_move = not matched or matched[0] in ("market_move", "analysis_opinion")
    if view and not specific and about_a_move and not _names_a_cause(title):
        # A forecast or a view, about a move or about nothing a rule names.
        return EventGuess("analysis_opinion", 0.6, SEVERITY["analysis_opinion"], False)
    if not view and not specific and _is_report(title):
        # Coverage of a move: its type is the move, whatever else the words touch.
        return EventGuess("market_move", 0.8, SEVERITY["market_move"], True)
    if not matched:
        return EventGuess(OTHER, 0.5, SEVERITY[OTHER], False)
    name = _tie_break(title, matched)
    k = max(1, _hits(name, title))  # a tie-break can pick a type no pattern of which matched
    others = len(matched) - (name in matched)
    confidence = round(min(0.95, 0.5 + 0.4 * k / (k + others)), 3)
    return EventGuess(name, confidence, SEVERITY[name], False)
