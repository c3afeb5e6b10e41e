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
from flushwatch.records.news import FEED_KINDS, FeedSpec


def validate_spec(spec: FeedSpec, where: str = "feed") -> FeedSpec:
    if spec.kind not in FEED_KINDS:
        raise InputError(f"{where}: kind {spec.kind!r} is not one of {', '.join(FEED_KINDS)}")
    if not 1 <= spec.tier <= 3:
        raise InputError(f"{where}: tier {spec.tier} is not 1, 2 or 3")
    if not spec.url or not spec.name:
        raise InputError(f"{where}: a feed needs a name and a url")
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
    like a kind (crypto, macro, regulator, exchange) set the kind of the feeds inside them."""
    from defusedxml import ElementTree as DET
    from defusedxml.common import DefusedXmlException

    try:
        root = DET.fromstring(data)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise InputError(f"not a readable OPML file: {exc}", path=path) from exc
    specs: list[FeedSpec] = []

    def walk(node: ET.Element, kind: str) -> None:
        for child in node.findall("outline"):
            url = child.get("xmlUrl") or child.get("xmlurl")
            label = child.get("title") or child.get("text") or ""
            if url:
                k = child.get("category", kind)
                k = k if k in FEED_KINDS else kind
                specs.append(
                    FeedSpec(
                        name=label or url,
                        url=url.strip(),
                        kind=k,
                        language=child.get("language") or "en",
                        tier=2,
                    )
                )
            else:
                walk(child, label.lower() if label.lower() in FEED_KINDS else kind)

    body = root.find("body")
    if body is None:
        raise InputError("OPML file has no <body>", path=path)
    walk(body, "crypto")
    return specs


def to_opml(specs: Sequence[FeedSpec], title: str = "flushwatch feeds") -> str:
    """OPML 2.0 grouping feeds by kind (round-trips through :func:`parse_opml`)."""
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
            ET.SubElement(
                parent,
                "outline",
                type="rss",
                text=s.name,
                title=s.name,
                xmlUrl=s.url,
                category=s.kind,
                language=s.language or "",
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def read_opml(path: Path) -> list[FeedSpec]:
    try:
        return parse_opml(path.read_bytes(), str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc
