"""The default feed catalogue (``data/feeds.toml``) and OPML import/export.

OPML is how feed readers move subscriptions; we read it with defusedxml (no entity
expansion) and write it with the standard library. Pure functions over text.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from xml.etree import ElementTree as ET

from flushwatch.errors import InputError
from flushwatch.ingest import web
from flushwatch.ingest.news.fetch import is_local, local_path
from flushwatch.records.news import FEED_KINDS, FeedSpec

# flushwatch's own outline attributes, so an export -> import round trip keeps each feed's
# settings. Other feed readers ignore attributes they do not know.
TIER_ATTR = "tier"
ENABLED_ATTR = "enabled"
_FALSE = ("false", "0", "no", "off")
_TRUE = ("true", "1", "yes", "on")


def url_problem(url: str, *, allow_local: bool = False) -> str | None:
    """Why ``url`` cannot be fetched, or None. Checked when a feed is added, so a typo fails
    there (exit 2) instead of failing every later ingest.

    Feeds are http(s) URLs with a host. A local file (a plain path or ``file://``) is accepted
    only with ``allow_local``: when the user typed it on their own command line (``feeds add``,
    ``ingest --feed``). A catalogue or an OPML file from elsewhere must not make us read
    ``/etc/passwd`` or an ssh key into the headlines table."""
    if not url.strip():
        return "a feed needs a url"
    if is_local(url):
        if not allow_local:
            where = "a local file can be a feed only when named on the command line"
            return f"{url!r} is not an http(s) URL ({where})"
        path = local_path(url)
        return None if path.is_file() else f"{url!r} is not an http(s) URL or an existing file"
    problem = web.url_problem(url)
    if problem is None and " " in url.strip():
        problem = "an http(s) URL with a space in it"
    if problem is None:
        return None
    local = " and local files" if allow_local else ""
    return f"{url!r} is {problem}; only http(s) URLs{local} can be fetched"


def spec_problem(spec: FeedSpec, *, allow_local: bool = False) -> str | None:
    """What is wrong with ``spec``, or None. The caller picks the error type: a bad command-line
    value is a usage error (exit 2), a bad line in a catalogue or OPML file an input error.
    ``allow_local``: see :func:`url_problem`."""
    if spec.kind not in FEED_KINDS:
        return f"kind {spec.kind!r} is not one of {', '.join(FEED_KINDS)}"
    if not 1 <= spec.tier <= 3:
        return f"tier {spec.tier} is not 1, 2 or 3"
    if not spec.url.strip() or not spec.name:
        return "a feed needs a name and a url"
    return url_problem(spec.url, allow_local=allow_local)


def validate_spec(spec: FeedSpec, where: str = "feed") -> FeedSpec:
    """``spec`` when usable, else InputError naming ``where`` (a file and entry)."""
    problem = spec_problem(spec)
    if problem:
        raise InputError(f"{where}: {problem}")
    return spec


def parse_catalogue(text: str, path: str = "feeds.toml") -> tuple[str, list[FeedSpec]]:
    """(version, feeds) from catalogue TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from exc
    specs = []
    for i, entry in enumerate(data.get("feed", []), 1):
        try:
            spec = FeedSpec(
                name=str(entry["name"]),
                url=str(entry["url"]),
                kind=str(entry.get("kind", "crypto")),
                language=entry.get("language", "en"),
                tier=int(entry.get("tier", 2)),
                enabled=bool(entry.get("enabled", True)),
            )
        except KeyError as exc:
            raise InputError(f"feed #{i} lacks {exc}", path=path) from exc
        specs.append(validate_spec(spec, f"{path}: feed #{i}"))
    return str(data.get("version", "0")), specs


def default_catalogue() -> tuple[str, list[FeedSpec]]:
    text = resources.files("flushwatch.ingest.news").joinpath("data", "feeds.toml").read_text("utf-8")
    return parse_catalogue(text)


def parse_opml(data: bytes, path: str = "subscriptions.opml") -> list[FeedSpec]:
    """Feeds from an OPML file: every ``outline`` with an ``xmlUrl``. Category outlines named
    like a kind (crypto, macro, regulator, exchange) set the kind of the feeds inside them.
    flushwatch's ``tier`` and ``enabled`` attributes (written by :func:`to_opml`) are read back;
    without them a feed is tier 2 and enabled. An outline whose URL is blank or not http(s)
    (local files are refused: see :func:`url_problem`) fails the whole file (InputError naming
    it), so nothing is half-imported."""
    from defusedxml import ElementTree as DET
    from defusedxml.common import DefusedXmlException

    try:
        root = DET.fromstring(data)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise InputError(f"not a readable OPML file: {exc}", path=path) from exc
    body = root.find("body")
    if body is None:
        raise InputError("OPML file has no <body>", path=path)
    specs: list[FeedSpec] = []
    # Depth-first in document order with an explicit stack, not recursion: a file nesting
    # outlines thousands deep must not end in a RecursionError traceback.
    stack = [(iter(body.findall("outline")), "crypto")]
    while stack:
        children, kind = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        url = child.get("xmlUrl")
        if url is None:
            url = child.get("xmlurl")
        label = child.get("title") or child.get("text") or ""
        if url is None:
            group = label.lower()
            stack.append((iter(child.findall("outline")), group if group in FEED_KINDS else kind))
            continue
        k = child.get("category", kind)
        k = k if k in FEED_KINDS else kind
        where = f"{path}: outline {label or url!r}"
        spec = FeedSpec(
            name=label or url.strip(),
            url=url.strip(),
            kind=k,
            language=child.get("language") or "en",
            tier=_tier(child.get(TIER_ATTR), where),
            enabled=_enabled(child.get(ENABLED_ATTR), where),
        )
        specs.append(validate_spec(spec, where))
    return specs


def _tier(value: str | None, where: str) -> int:
    if value is None or not value.strip():
        return 2
    try:
        return int(value)
    except ValueError as exc:
        raise InputError(f"{where}: tier {value!r} is not 1, 2 or 3") from exc


def _enabled(value: str | None, where: str) -> bool:
    if value is None or not value.strip():
        return True
    v = value.strip().lower()
    if v in _FALSE or v in _TRUE:
        return v in _TRUE
    raise InputError(f"{where}: enabled {value!r} is not true or false")


def to_opml(specs: Sequence[FeedSpec], title: str = "flushwatch feeds") -> str:
    """OPML 2.0 grouping feeds by kind; each outline carries its tier and whether it is enabled,
    so the file round-trips through :func:`parse_opml` without losing a setting."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for kind in FEED_KINDS:
        group = [s for s in specs if s.kind == kind]
        if not group:
            continue
        parent = ET.SubElement(body, "outline", text=kind, title=kind)
        for s in group:
            attrs = {
                "type": "rss",
                "text": s.name,
                "title": s.name,
                "xmlUrl": s.url,
                "category": s.kind,
                "language": s.language or "",
                TIER_ATTR: str(s.tier),
                ENABLED_ATTR: "true" if s.enabled else "false",
            }
            ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def read_opml(path: Path) -> list[FeedSpec]:
    try:
        return parse_opml(path.read_bytes(), str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc
