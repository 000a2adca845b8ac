"""Telegram message formatting: a strict port of Telegram's HTML entity parser.

:func:`parse_html` follows the algorithm of TDLib's ``parse_html`` (what the Bot API runs for
``parse_mode="HTML"``) and reports errors with Telegram's wording.  It is deliberately a little
stricter than Telegram in three places, because each of them is a bug in the sender:

* a ``&`` that does not start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#NN;``/``&#xHH;`` is an
  error (Telegram silently keeps it), and the closing ``;`` is mandatory;
* ``<a>`` needs an ``href`` attribute (Telegram would fall back to the link text);
* ``<span>`` needs ``class="tg-spoiler"`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\r\n\f\v"
SUPPORTED_PARSE_MODES = ("HTML", "Markdown", "MarkdownV2")


class EntityParseError(ValueError):
    """The text can't be parsed; ``str(err)`` is Telegram's reason."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output where the entity starts
    expandable: bool = False


@dataclass
class ParsedText:
    """Text as the user sees it, plus the MessageEntity dicts Telegram derives from markup."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


class HtmlParser:
    """One-shot parser for one string; use :func:`parse_html`."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.out_len16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    # -- helpers -----------------------------------------------------------------------------
    def _byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def _peek(self, index: int | None = None) -> str:
        i = self.pos if index is None else index
        return self.src[i] if i < len(self.src) else ""

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_len16 += utf16_len(chunk)

    def _error(self, message: str) -> EntityParseError:
        return EntityParseError(message)

    # -- entities ----------------------------------------------------------------------------
    def _decode_entity(self, start: int) -> tuple[str, int] | None:
        """Decode ``&...;`` at ``start``; return (character, index after it) or None."""
        src = self.src
        i = start + 1
        if self._peek(i) == "#":
            i += 1
            hexadecimal = self._peek(i) in ("x", "X")
            if hexadecimal:
                i += 1
            digits_start = i
            allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
            while i < len(src) and src[i] in allowed:
                i += 1
            digits = src[digits_start:i]
            if not digits or i - start >= 10:
                return None
            code = int(digits, 16 if hexadecimal else 10)
            if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                return None
            char = chr(code)
        else:
            name_start = i
            while i < len(src) and src[i].isascii() and src[i].isalpha():
                i += 1
            char = _NAMED_ENTITIES.get(src[name_start:i], "")
            if not char:
                return None
        if self._peek(i) != ";":
            return None
        return char, i + 1

    def _read_entity(self) -> None:
        decoded = self._decode_entity(self.pos)
        if decoded is None:
            raise self._error(
                f"Unsupported HTML entity at byte offset {self._byte_offset(self.pos)}: "
                'use "&amp;" for a literal "&"'
            )
        char, self.pos = decoded
        self._emit(char)

    # -- tags --------------------------------------------------------------------------------
    def _read_start_tag(self) -> None:
        src, begin = self.src, self.pos
        i = begin + 1
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        if i >= len(src):
            raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        tag = src[begin + 1 : i].lower()
        if tag not in ALLOWED_TAGS:
            raise self._error(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset(begin)}')
        attributes: dict[str, str] = {}
        while i < len(src) and src[i] != ">":
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if i < len(src) and src[i] == ">":
                break
            name_start = i
            while i < len(src) and src[i] not in _SPACES and src[i] not in "=>":
                i += 1
            attr = src[name_start:i].lower()
            where = f'the tag "{tag}" at byte offset {self._byte_offset(begin)}'
            if i >= len(src):
                raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            if not attr:
                raise self._error(f"Empty attribute name in {where}")
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if self._peek(i) != "=":
                if tag == "blockquote" and attr == "expandable":
                    attributes[attr] = ""
                    continue
                raise self._error(f"Expected equal sign in declaration of an attribute of {where}")
            i += 1
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if i >= len(src):
                raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            value, i = self._read_attribute_value(i)
            if i >= len(src):
                raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            attributes[attr] = value
        self.pos = i + 1
        self._open(tag, attributes, self._byte_offset(begin))

    def _read_attribute_value(self, i: int) -> tuple[str, int]:
        src = self.src
        quote = src[i]
        if quote not in "'\"":
            start = i
            while i < len(src) and ((src[i].isascii() and src[i].isalnum()) or src[i] in ".-"):
                i += 1
            if i < len(src) and src[i] not in _SPACES and src[i] != ">":
                raise self._error(f"Unexpected end of name token at byte offset {self._byte_offset(start)}")
            return src[start:i].lower(), i
        i += 1
        value: list[str] = []
        while i < len(src) and src[i] != quote:
            if src[i] == "&":
                decoded = self._decode_entity(i)
                if decoded is not None:
                    value.append(decoded[0])
                    i = decoded[1]
                    continue
            value.append(src[i])
            i += 1
        if i < len(src):
            i += 1  # closing quote
        return "".join(value), i

    def _open(self, tag: str, attributes: dict[str, str], byte_offset: int) -> None:
        argument = ""
        where = f"at byte offset {byte_offset}"
        if tag == "a":
            if "href" not in attributes:
                raise self._error(f'Tag "a" must have an "href" attribute {where}')
            argument = attributes["href"]
        elif tag == "span":
            if attributes.get("class") != "tg-spoiler":
                raise self._error(f'Tag "span" must have class "tg-spoiler" {where}')
        elif tag == "code":
            css = attributes.get("class", "")
            argument = css[9:] if css.startswith("language-") else ""
        elif tag == "tg-emoji":
            argument = attributes.get("emoji-id", "")
            if not argument.isdigit():
                raise self._error("Custom emoji entity must contain a valid custom emoji identifier")
        self.stack.append(_OpenTag(tag, argument, self.out_len16, expandable="expandable" in attributes))

    def _read_end_tag(self) -> None:
        src, begin = self.src, self.pos
        if not self.stack:
            raise self._error(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        i = begin + 2
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        end_name = src[begin + 2 : i].lower()
        while i < len(src) and src[i] in _SPACES:
            i += 1
        if self._peek(i) != ">":
            raise self._error(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        open_tag = self.stack.pop()
        if end_name and end_name != open_tag.name:
            raise self._error(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{open_tag.name}>", found "</{end_name}>"'
            )
        self.pos = i + 1
        self._close(open_tag)

    def _close(self, tag: _OpenTag) -> None:
        length = self.out_len16 - tag.offset
        if length <= 0:
            return
        entity: dict[str, Any] = {"type": _ENTITY_TYPES[tag.name], "offset": tag.offset}
        entity["length"] = length
        if tag.name == "a":
            entity["url"] = tag.argument
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote" and tag.expandable:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> gives the enclosing pre its language.
            if tag.argument and not self.stack[-1].argument:
                self.stack[-1].argument = tag.argument
            return
        elif tag.name == "pre" and tag.argument:
            entity["language"] = tag.argument
        self.entities.append(entity)

    # -- driver ------------------------------------------------------------------------------
    def parse(self) -> ParsedText:
        src = self.src
        while self.pos < len(src):
            char = src[self.pos]
            if char == "&":
                self._read_entity()
            elif char == "<":
                if self._peek(self.pos + 1) == "/":
                    self._read_end_tag()
                else:
                    self._read_start_tag()
            else:
                nxt = self.pos
                while nxt < len(src) and src[nxt] not in "&<":
                    nxt += 1
                self._emit(src[self.pos : nxt])
                self.pos = nxt
        if self.stack:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.out), self.entities)


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML; raise :class:`EntityParseError` exactly where Telegram would."""
    return HtmlParser(source).parse()


def _strip(parsed: ParsedText) -> ParsedText:
    """Trim surrounding whitespace the way Telegram does, shifting entity offsets."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    head = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - head, 0)
        end = min(entity["offset"] + entity["length"] - head, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)


def parse_text(text: str, parse_mode: str | None) -> ParsedText:
    """What Telegram stores for ``text`` sent with ``parse_mode`` (trimmed, with entities).

    Markdown modes are accepted but not parsed: the text is kept as it is.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _strip(parse_html(text))
    if mode in ("", "markdown", "markdownv2"):
        return _strip(ParsedText(text))
    raise EntityParseError(f"Unsupported parse mode {parse_mode!r}")
