"""Pure normalisation: text, times, URLs and identity keys. No I/O, so every rule is unit-tested.

Why each rule exists:
* feeds put HTML and entities in titles and summaries; users and the model need plain text;
* some exports hold mojibake ("Ã©", "â€™") or literal ``\\x93`` escapes; ftfy repairs the
  former only where its heuristics are confident, and a literal ``\\xNN`` is decoded as cp1252;
* the same article reaches us as http/https, with utm_* parameters, or as an AMP page, so the
  canonical URL drops what never changes the article;
* feeds lie about time: a missing or future time falls back to first-seen and is flagged;
* a headline is a line, not a document: titles are cut to ``MAX_TITLE_CHARS`` (a feed or an
  export can carry megabytes in one title, which every table, digest and scoring batch would
  carry after it);
* only http(s) links are stored: a ``javascript:`` or ``data:`` link in a feed must never
  become something a reader clicks;
* control characters (C0 and C1) become spaces: a stored title is one line of visible text, and
  C1 characters are in practice stray cp1252 bytes read as Latin-1, not meaning. Mojibake repair
  runs first, because ftfy turns C1 sequences back into the text they were (U+00E2 U+0080
  U+0099, the UTF-8 bytes of a right single quote read as Latin-1, becomes U+2019);
* a lone surrogate (JSON may escape one: ``"\\ud800"``) is no character and cannot be encoded,
  stored or hashed; it becomes U+FFFD, so the item is kept and shows where text was lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flushwatch.ingest.web import url_problem
from flushwatch.nlp.language import detect_language
from flushwatch.records.news import Headline, RawItem, TimeFlag

# A published time more than this far ahead of first-seen is a source clock / timezone error.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# Titles longer than this (after cleaning) are cut, with an ellipsis, on every path in: feeds,
# imports, the demo. Real headlines run to about 60-200 characters; 1,000 keeps every one of
# them whole and stays well inside the scorer's 512-token window. Summaries share the cap.
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 1000

_TAG_RE = re.compile(r"<[^>]{0,2000}>", re.DOTALL)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_SCRIPT_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
# Block-level tags separate words; inline tags (<b>, <em>, <a>) do not.
_BLOCK_RE = re.compile(
    r"</?\s*(br|p|div|li|ul|ol|h\d|tr|td|th|table|blockquote|figure|figcaption|img|hr|section|article)\b[^>]*>",
    re.IGNORECASE,
)
_WS_RE = re.compile(r"\s+")  # str patterns: also NBSP and other Unicode spaces
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_LITERAL_ESCAPE_RE = re.compile(r"\\x([0-9a-fA-F]{2})")
_MOJIBAKE_HINT_RE = re.compile(
    "[ÃÂâ][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)


def _decode_literal_escape(match: re.Match[str]) -> str:
    return bytes([int(match.group(1), 16)]).decode("cp1252", errors="replace")


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a split pair is joined).

    Any text that reaches a ``str`` without strict UTF-8 decoding may hold them: a JSON
    ``"\\ud800"`` escape, a file name read with ``surrogateescape``. Encoding such text raises
    (hashing, DuckDB), so every field of an item passes here before it is used."""
    if text.isascii() or not _SURROGATE_RE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-cp1252/latin-1 mojibake, only when it is clearly there."""
    if "\\x" in text:
        text = _LITERAL_ESCAPE_RE.sub(_decode_literal_escape, text)
    if _MOJIBAKE_HINT_RE.search(text):
        try:
            import ftfy

            text = ftfy.fix_text(text, normalization="NFC", uncurl_quotes=False, unescape_html=False)
        except ImportError:  # pragma: no cover - ftfy is a declared dependency
            for codec in ("cp1252", "latin-1"):
                try:
                    text = text.encode(codec).decode("utf-8")
                    break
                except UnicodeError:
                    continue
    return text


def plain_text(value: str | None) -> str:
    """HTML stripped, entities decoded, mojibake repaired, control characters and lone
    surrogates replaced, whitespace collapsed to single spaces."""
    if not value:
        return ""
    text = replace_surrogates(value)
    if "<" in text:
        text = _COMMENT_RE.sub(" ", text)
        text = _SCRIPT_RE.sub(" ", text)
        text = _BLOCK_RE.sub(" ", text)
        text = _TAG_RE.sub("", text)
    if "&" in text:
        # Twice: feeds often double-escape ("&amp;#8217;").
        text = html.unescape(html.unescape(text))
        if "<" in text:
            text = _BLOCK_RE.sub(" ", text)
            text = _TAG_RE.sub("", text)
    text = repair_mojibake(text)
    text = _CONTROL_RE.sub(" ", text)
    return _WS_RE.sub(" ", text).strip()


def cut(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its first ``limit - 1`` and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_title(value: str | None) -> str:
    """A title as stored: :func:`plain_text`, cut to ``MAX_TITLE_CHARS``."""
    return cut(plain_text(value), MAX_TITLE_CHARS)


def clean_summary(value: str | None, limit: int = MAX_SUMMARY_CHARS) -> str | None:
    text = plain_text(value)
    if not text:
        return None
    return cut(text, limit)


# -- language ----------------------------------------------------------------------------------


def normalise_language(code: str | None) -> str | None:
    """'en-US' -> 'en'; the feed's declared language, lower-cased primary subtag."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if 2 <= len(primary) <= 3 and primary.isalpha() else None


# -- times -------------------------------------------------------------------------------------


def to_utc(value: dt.datetime) -> dt.datetime:
    """Aware -> UTC; naive is taken as UTC (what feedparser's *_parsed tuples are)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def resolve_time(published: dt.datetime | None, first_seen: dt.datetime) -> tuple[dt.datetime, str | None]:
    """(published_at to store, time_flag). Missing or future times fall back to first-seen."""
    if published is None:
        return first_seen, TimeFlag.missing.value
    published = to_utc(published)
    if published > first_seen + FUTURE_TOLERANCE:
        return first_seen, TimeFlag.future.value
    return published, None


# -- URLs --------------------------------------------------------------------------------------

_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "ref",
        "ref_src",
        "referrer",
        "source",
        "cmpid",
        "ncid",
        "guccounter",
        "s_cid",
        "amp",
        "outputtype",
        "output",
        "__twitter_impression",
        "spm",
        "si",
        "mkt_tok",
        "oly_enc_id",
    }
)
_AMP_PATH_RE = re.compile(r"(/amp/?$|^/amp(?=/)|\.amp(?=(\.html?)?$))", re.IGNORECASE)


_SLASHES_RE = re.compile(r"/{2,}")


def web_url(url: str | None) -> str | None:
    """``url`` stripped when it is an absolute http(s) URL with a host, else None.

    Entries carry ``javascript:``, ``data:`` and ``vbscript:`` links (and relative ones that
    lead nowhere without the page they came from); stored, any of them could run in a reader's
    browser the moment someone clicks the headline."""
    url = url.strip() if url else ""
    return url if url and url_problem(url) is None else None


def canonical_url(url: str | None) -> str | None:
    """The article's stable address: https, lower-case host, no www./amp., no tracking params,
    no fragment, no AMP path variant, no trailing slash. Returns None for non-http(s) input.

    Each rewrite runs only when its trigger is present ("amp", "//", a query): this is called
    for every item on every pass."""
    if not url:
        return None
    url = url.strip()
    # Some exports glue the site onto an absolute URL: 'https://a.comhttps://a.com/x'.
    last = max(url.rfind("https://"), url.rfind("http://"))
    if last > 0:
        url = url[last:]
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    hostname = parts.hostname
    if not hostname:
        return None
    host = hostname.lower().rstrip(".")
    for prefix in ("www.", "amp.", "m."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    port = parts.port
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path
    if "amp" in path.lower():
        while True:  # '/x/amp/amp' -> '/x'
            stripped = _AMP_PATH_RE.sub("", path)
            if stripped == path:
                break
            path = stripped
    path = path or "/"
    if "//" in path:
        path = _SLASHES_RE.sub("/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = ""
    if parts.query:
        kept = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith(("utm_", "at_", "pk_", "mtm_")) and k.lower() not in _TRACKING_PARAMS
        ]
        kept.sort()
        query = urlencode(kept)
    return urlunsplit(("https", host, path, query, ""))


# -- identity ----------------------------------------------------------------------------------

_TITLE_KEY_RE = re.compile(r"[^a-z0-9]+")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def content_hash(title: str, summary: str | None) -> str:
    """Changes when what a reader sees changes; ignores whitespace and case noise."""
    return _digest(f"{title.casefold()}\x1f{(summary or '').casefold()}")


def identity_keys(
    *, source: str, guid: str | None, canonical: str | None, title: str, published: dt.datetime | None
) -> tuple[str, ...]:
    """Identity keys, strongest first: GUID (scoped to the source), canonical URL, title hash.

    A GUID that is itself a URL is keyed by its canonical form, so http/https or AMP GUIDs of
    one article meet. The title key is the last resort for rows with neither (imports).
    """
    keys: list[str] = []
    if guid:
        guid_url = canonical_url(guid) if guid.startswith(("http://", "https://")) else None
        if guid_url:
            keys.append(f"url:{guid_url}")
        else:
            keys.append(f"guid:{source.casefold()}:{guid.strip()}")
    if canonical and f"url:{canonical}" not in keys:
        keys.append(f"url:{canonical}")
    if not keys:
        when = published.strftime("%Y-%m-%dT%H") if published else ""
        keys.append(f"title:{source.casefold()}:{_digest(_TITLE_KEY_RE.sub(' ', title.casefold()) + when)}")
    return tuple(keys)


def normalise_item(
    raw: RawItem,
    *,
    source: str,
    first_seen: dt.datetime,
    origin: str,
    feed_id: int | None = None,
    feed_language: str | None = None,
) -> Headline | None:
    """RawItem -> Headline, or None when nothing usable is left (no title).

    Every text field passes :func:`replace_surrogates` (titles and summaries through
    :func:`plain_text`): feeds, imports and file names all end up here, and one lone surrogate
    left in a key or URL would fail the whole batch when it is hashed or stored."""
    title = clean_title(raw.title)
    if not title:
        return None
    summary = clean_summary(raw.summary)
    source = replace_surrogates(source)
    guid = replace_surrogates(raw.guid) if raw.guid else raw.guid
    url = replace_surrogates(raw.url) if raw.url else raw.url
    canonical = canonical_url(url)
    published, flag = resolve_time(raw.published_at, first_seen)
    keys = identity_keys(
        source=source, guid=guid, canonical=canonical, title=title, published=raw.published_at
    )
    language = normalise_language(feed_language) or detect_language(title)
    return Headline(
        dedup_key=keys[0],
        alt_keys=keys[1:],
        source=source,
        title=title,
        summary=summary,
        url=web_url(url),
        canonical_url=canonical,
        guid=guid,
        language=language,
        published_at=published,
        first_seen_at=first_seen,
        time_flag=flag,
        content_hash=content_hash(title, summary),
        origin=origin,
        feed_id=feed_id,
    )
