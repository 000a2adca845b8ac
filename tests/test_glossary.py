"""The Chinese catalogue's style: one term per concept (docs/glossary.md), full-width punctuation
in Chinese sentences, and plurals through ``ngettext`` in the English source.

Each rule is a small function over one entry, tested on its own first (it catches what it should,
and lets the exceptions through), then run over the whole catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import catalogue_path

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"

#: Chinese ideographs and CJK/full-width punctuation: what makes a neighbour "Chinese text".
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
#: ASCII punctuation that has a full-width form a Chinese sentence must use.
ASCII_PUNCTUATION = ":,;?!()"
#: Not part of the sentence: placeholders, HTML tags, URLs; a number's own punctuation (08:30, 5,000).
NOT_PROSE = re.compile(r"\{[^{}]*\}|<[^<>]+>|https?://\S+|(?<=\d)[:,](?=\d)")
NEUTRAL = "\x00"  # stands in for what NOT_PROSE takes out: neither Chinese nor an English word


@dataclass(frozen=True)
class Entry:
    ids: tuple[str, ...]  # msgid (and msgid_plural)
    strings: tuple[str, ...]  # msgstr (each plural form)


def entries() -> list[Entry]:
    with catalogue_path("zh").open("rb") as po:
        catalog = read_po(po)
    found = []
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        found.append(Entry(tuple(ids), tuple(s for s in strings if s)))
    return found


# -- punctuation -----------------------------------------------------------------------------------


def punctuation_marks(text: str) -> list[int]:
    """Where ``text`` has an ASCII punctuation mark standing in Chinese prose.

    A mark is in Chinese prose when its neighbour on either side is Chinese, or, unless it is
    glued to the end of an English word (``Problems: /``, ``code,name``), when the nearest
    character past any spaces is.
    """
    prose = NOT_PROSE.sub(lambda m: NEUTRAL * len(m.group()), text)
    marks = []
    for i, char in enumerate(prose):
        if char not in ASCII_PUNCTUATION:
            continue
        left, right = prose[i - 1] if i else "", prose[i + 1] if i + 1 < len(prose) else ""
        if CJK.match(left) or CJK.match(right):
            marks.append(i)
            continue
        if left.isascii() and left.isalnum():
            continue
        before, after = prose[:i].rstrip(" "), prose[i + 1 :].lstrip(" ")
        if (before and CJK.match(before[-1])) or (after and CJK.match(after[0])):
            marks.append(i)
    return marks


def punctuation_problems(text: str) -> list[str]:
    """The marks of :func:`punctuation_marks`, each with its context to read in a failure."""
    return [text[max(0, i - 8) : i + 9] for i in punctuation_marks(text)]


@pytest.mark.parametrize(
    "text",
    [
        "客户: 金额",
        "收据号是多少?",
        "金额：{amount} (现金)",
        "{customer}: 金额",
        "<b>客户</b>, 金额",
        "第 {line} 行(无效)",
        "好的!",
        "保存;然后",
    ],
)
def test_ascii_punctuation_in_chinese_is_caught(text: str) -> None:
    assert punctuation_problems(text)


@pytest.mark.parametrize(
    "text",
    [
        "时间 08:30 之前",
        "例如 5,000.50 或 1.5万",
        "位置：{latitude}, {longitude}",
        "{seconds:.1f} 秒",
        "/settings time 任务名 HH:MM",
        "需要 code,name,… 列",
        "（或 Problems: / Market: / Plan: 开头）",
        '<a href="https://t.me/x?start=a">链接</a>',
        "压缩比超过 {ratio} 比 1",
        "English only: (fine)",
    ],
)
def test_what_is_not_chinese_prose_may_keep_ascii(text: str) -> None:
    assert not punctuation_problems(text)


def test_chinese_sentences_use_full_width_punctuation() -> None:
    found = {
        entry.ids[0]: problems
        for entry in entries()
        for text in entry.strings
        if (problems := punctuation_problems(text))
    }
    assert not found, f"use ： ， （ ） ； ？ ！ in Chinese text: {found}"


# -- the glossary ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    concept: str
    english: re.Pattern[str] | None  # None: the concept has no English word of its own
    chinese: str
    variants: tuple[str, ...]
    everywhere: tuple[str, ...]  # variants wrong whatever the English says (bold in the table)


def english_pattern(words: str) -> re.Pattern[str] | None:
    forms = [w.strip() for w in words.split(",") if w.strip()]
    if not forms:
        return None
    parts = [
        r"\b"
        + r"\s+".join(map(re.escape, form.rstrip("*").split()))
        + (r"\w*" if form.endswith("*") else r"\b")
        for form in forms
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


def glossary() -> list[Term]:
    """The rows of docs/glossary.md's "Terms" table."""
    text = GLOSSARY.read_text(encoding="utf-8")
    table = text.split("## Terms", 1)[1].split("\n## ", 1)[0]
    terms = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("Concept", "") or set(cells[0]) <= {"-"}:
            continue
        concept, english, chinese, variants, _notes = cells
        listed = [v.strip() for v in variants.split(",") if v.strip()]
        terms.append(
            Term(
                concept,
                english_pattern(english),
                chinese,
                tuple(v.strip("*") for v in listed),
                tuple(v.strip("*") for v in listed if v.startswith("**")),
            )
        )
    return terms


def english_prose(message: str) -> str:
    """What a msgid says in words: placeholders, tags and /commands left out."""
    return re.sub(r"\{[^{}]*\}|<[^<>]+>|/\w+", " ", message)


def without_terms(text: str, terms: list[Term], variant: str) -> str:
    """``text`` with the glossary terms taken out (longest first), so that a term is never read as a
    variant it contains (应收账款 holds 收账, 销售总监 holds 总监); a term the variant itself contains
    stays (收款方式 holds the term 收款)."""
    for chinese in sorted({term.chinese for term in terms}, key=len, reverse=True):
        if chinese not in variant:
            text = text.replace(chinese, NEUTRAL)
    return text


def glossary_problems(entry: Entry, terms: list[Term]) -> list[str]:
    english = english_prose(" ".join(entry.ids))
    problems = []
    for text in entry.strings:
        for term in terms:
            applies = term.english is not None and term.english.search(english)
            for variant in term.variants if applies else term.everywhere:
                if variant in without_terms(text, terms, variant):
                    problems.append(f"{variant} → {term.chinese} ({term.concept})")
    return problems


def test_the_glossary_is_read() -> None:
    terms = {term.concept: term for term in glossary()}
    assert terms["sales rep"].chinese == "销售员" and "业务员" in terms["sales rep"].everywhere
    assert terms["sales director"].variants == ("总监", "营销总监")
    assert len(terms) >= 40


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Held by rep", "在业务员手中"),  # a variant
        ("Team figures are for managers, the director and finance.", "只对主管、总监和财务开放"),  # bare 总监
        ("Collections: {count}", "收账：{count}"),
        ("This invite link has expired.", "这个邀请链接已过期。"),
        ("The day's collections by rep and method", "当天收款：按销售员和收款方式"),  # holds the term 收款
        ("Saved.", "您的内容已保存。"),  # wrong in every entry
    ],
)
def test_a_glossary_variant_is_caught(english: str, chinese: str) -> None:
    assert glossary_problems(Entry((english,), (chinese,)), glossary())


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Open receivables", "未结应收账款"),  # 应收账款 is not 收账
        ("the sales director is informed.", "已通知销售总监。"),  # 销售总监 is not a bare 总监
        ("Invite #{id} had already expired ({date}).", "邀请 #{id} 已于 {date} 失效。"),
        ("Quiet hours: {start}–{end}", "免打扰时段：{start}–{end}"),  # not the variant 时段 of "period"
        ("{days} days overdue", "逾期 {days} 天"),
    ],
)
def test_the_glossary_term_passes(english: str, chinese: str) -> None:
    assert not glossary_problems(Entry((english,), (chinese,)), glossary())


def test_one_term_per_concept_in_the_chinese_catalogue() -> None:
    terms = glossary()
    found = {entry.ids[0]: problems for entry in entries() if (problems := glossary_problems(entry, terms))}
    assert not found, f"docs/glossary.md names one term per concept: {found}"


def test_every_glossary_term_is_the_one_in_use() -> None:
    """A concept the catalogue speaks of is said with its glossary term somewhere: a table whose term
    nobody uses describes some other catalogue."""
    catalogue = entries()
    unused = []
    for term in glossary():
        if term.english is None:
            continue
        speaking = [e for e in catalogue if term.english.search(english_prose(" ".join(e.ids)))]
        if speaking and not any(term.chinese in text for e in speaking for text in e.strings):
            unused.append(term.concept)
    assert not unused


# -- plurals ---------------------------------------------------------------------------------------


def hand_made_plurals(message: str) -> list[str]:
    """ "customer(s)", "problem(s)": a plural chosen by the reader, not by ``ngettext``."""
    return re.findall(r"\w+\(s\)", message)


def test_a_hand_made_plural_is_caught() -> None:
    assert hand_made_plurals("Nothing was imported: {count} problem(s).") == ["problem(s)"]
    assert not hand_made_plurals("(shortened) {count} problems (see the file)")


def test_plurals_go_through_ngettext() -> None:
    found = [i for entry in entries() for i in entry.ids if hand_made_plurals(i)]
    assert not found, f"use ngettext(singular, plural, n): {found}"
