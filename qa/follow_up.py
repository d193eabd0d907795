"""Follow-up questions: which lean on the previous turn, and the self-contained question to search instead.

The rules (every word list in `qa/answer/words.json`):
- a question asking where the last answer came from ("Which article says that?") is answered from
  that answer's citations, without searching (`is_citation_question`, `sources_answer`);
- an elliptic question carries the previous question: "And the wounded?" after "How many troops
  were deployed?" becomes "How many troops were wounded?"; "And Kim?" after "Who is Ryu?" becomes
  "Who is Kim?"; a bare wh-phrase ("Over what period?", "Why?") joins it: "How many troops were
  deployed, and over what period?"; "Who said that?" is answered from the previous answer's first
  quote: the speaker its sentence names, or that it names none (`speaker_answer`);
- a pronoun binds to a noun phrase of the previous question: he/she/his/her to its last person
  name, they/them/their to its plural noun phrase ("the two captured soldiers"), never to a string
  of capitalised words; a question that names its own subject and has no pronoun stands alone;
- every rewrite is a whole English question; when nothing fits, "About X: <question>".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.names import is_acronym, question_names
from qa.answer.periods import date_names
from qa.answer.stems import is_participle
from qa.answer.words import phrases, word_set, word_union

_TOKEN = re.compile(r"[\w'’]+(?:-[\w'’]+)*")


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _TOKEN.findall(text)]


def _norm(text: str) -> str:
    return " ".join(_words(text))


def is_citation_question(question: str) -> bool:
    """ "Which article says that?", "What is the source?": asks where the last answer came from."""
    q = _norm(question)
    return (
        any(q == _norm(p) or q.startswith(_norm(p) + " ") for p in phrases("citation_questions"))
        and len(_words(question)) <= 8
    )


def _elliptic_start(question: str) -> str | None:
    """The rest of "What about X?" / "And X?" / "How about X?", or None."""
    q = " ".join(question.strip().rstrip("?.!").split())
    for p in phrases("elliptic_starts"):
        m = re.match(rf"{re.escape(p)}\b[\s,]*(.*)$", q, re.IGNORECASE)
        if m and m.group(1):
            return m.group(1)
    return None


def _bare_wh(question: str) -> bool:
    """ "Over what period?", "Why?", "Since when?": a wh-phrase with nothing else."""
    q = _norm(question)
    return q in {_norm(p) for p in phrases("elliptic_questions")}


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier turn (see the module's rules)."""
    words = _words(question)
    pronouns = set(words) & (word_set("personal_pronouns"))
    if (
        is_citation_question(question)
        or _bare_wh(question)
        or _elliptic_start(question) is not None
    ):
        return True
    if question_names(question) and not pronouns:
        return False  # names its own subject: self-contained
    fn = word_union("function_words", "more_function_words", "personal_pronouns", "demonstratives")
    content = [w for w in words if w not in fn]
    return bool(pronouns) or bool(set(words) & word_set("demonstratives")) or len(content) <= 1


# ---------------------------------------------------------------- noun phrases of the previous turn


_DETERMINERS = r"(?:the|these|those|two|three|four|five|six|seven|eight|nine|ten|\d[\d,]*|several)"
_WH = frozenset({"what", "which", "many", "much", "whose"})


def plural_phrase(text: str) -> str:
    """The plural noun phrase "they" would stand for: "the two captured soldiers", "North Korean troops".

    The thing a wh-word asks for ("What injuries ...") is passed over when another phrase follows."""
    found = _plural_phrases(text)
    rest = [p for p, after_wh in found if not after_wh]
    return rest[0] if rest else (found[0][0] if found else "")


def _plural_phrases(text: str) -> list[tuple[str, bool]]:
    fn = word_union("function_words", "more_function_words", "auxiliaries")
    toks = list(_TOKEN.finditer(text))
    out = []
    for i, m in enumerate(toks):
        w = m.group()
        low = w.lower()
        if not (
            low.endswith("s")
            and not low.endswith(("ss", "us", "is"))
            and low not in fn
            and len(low) > 3
        ):
            continue
        if w[:1].isupper() or is_acronym(w) or i == 0:
            continue
        start = i
        while start > 0 and i - start < 4:
            prev = toks[start - 1].group()
            if prev.lower() in fn and not re.fullmatch(_DETERMINERS, prev.lower()):
                break
            if prev.lower().endswith("ed") and start - 1 == 0:
                break
            start -= 1
        after_wh = start > 0 and toks[start - 1].group().lower() in _WH
        out.append((text[toks[start].start() : m.end()], after_wh))
    return out


def person_name(text: str) -> str:
    """The last name of a question ("Ryu Seong-hyeon"); days and months are no one."""
    names = _people(text)
    return names[-1] if names else ""


def quoted_person(text: str) -> str:
    """The person an answer's sentence is about: its first full name ("Grace Wanjiru" in "Kenya's
    Grace Wanjiru won ... on Sunday"), else its first name."""
    names = _people(text)
    full = [n for n in names if len(n.split()) > 1]
    return (full or names or [""])[0]


def _people(text: str) -> list[str]:
    return [n for n in question_names(text) if not {w.lower() for w in n.split()} <= date_names()]


def _possessive(phrase: str) -> str:
    return phrase + "'" if phrase.endswith("s") and not phrase.endswith("'s") else phrase + "'s"


def _replace_pronoun(question: str, person: str, group: str) -> str | None:
    """The question with its first personal pronoun replaced by the name or noun phrase it stands for."""
    m = re.search(r"\b(he|she|him|her|his|hers|they|them|their|theirs)\b", question, re.IGNORECASE)
    if not m:
        return None
    pron = m.group(1).lower()
    target = group if pron in word_set("plural_pronouns") else person
    if not target:
        return None
    if pron in ("his", "their", "hers", "theirs") or (
        pron == "her" and _followed_by_noun(question, m.end())
    ):
        target = _possessive(target)
    if m.start() == 0:
        target = target[:1].upper() + target[1:]
    elif target[:4].lower() == "the " and target[:1] == "T":
        target = "t" + target[1:]
    return question[: m.start()] + target + question[m.end() :]


def _followed_by_noun(question: str, at: int) -> bool:
    nxt = _TOKEN.findall(question[at:])[:1]
    return bool(nxt) and nxt[0].lower() not in word_union("function_words", "more_function_words")


# ---------------------------------------------------------------- the rewrite


def _asked_noun(previous: str) -> str:
    m = re.search(
        r"\bhow\s+(?:many|much)\s+((?:[\w'’-]+\s+){0,3}?[\w'’-]+)\s+(?=(?:were|was|are|is|did|do|does|have|has|had)\b)",
        previous,
        re.I,
    )
    return m.group(1) if m else ""


def _ellipsis(rest: str, previous: str) -> str:
    """ "And X?" against the previous question, as one whole question."""
    prev = previous.strip().rstrip("?.! ")
    x = re.sub(r"^(?:the|a|an)\s+", "", rest.strip(), flags=re.IGNORECASE)
    noun = _asked_noun(prev)
    xw = x.split()
    if noun and len(xw) == 1 and is_participle(xw[0].lower()):  # "And the wounded?"
        head = re.match(r"\s*(how\s+(?:many|much))\s+", prev, re.I)
        lead = head.group(1) if head else "How many"
        return f"{lead[:1].upper() + lead[1:]} {noun} were {x}?"
    if noun and not (x[:1].isupper()):  # "And the engineers?" -> the same question about them
        return re.sub(re.escape(noun), x, prev, count=1) + "?"
    names = question_names(prev)
    if names and x[:1].isupper():  # "And Kim?" after "Who is Ryu?"
        return prev.replace(names[-1], x, 1) + "?"
    return f"{prev}, and what about {rest.strip()}?"


def resolve_follow_up(question: str, turns: Sequence) -> str:
    """The question to search: a follow-up rewritten against the last answered turn, else `question` itself."""
    last = next(
        (t for t in reversed(turns) if not t.abstained and not is_citation_question(t.question)),
        None,
    )  # "Which article says that?" answers nothing a follow-up could lean on
    if last is None or not is_follow_up(question):
        return question
    previous = last.resolved_question or last.question
    rest = _elliptic_start(question)
    if rest is not None:
        return _ellipsis(rest, previous)
    if is_speaker_question(question):  # no quote to ask about: the previous question's speaker
        return f"Who said that: {previous.rstrip('?')}?"
    if _bare_wh(question):
        return f"{previous.strip().rstrip('?.! ')}, and {question.strip().rstrip('?.! ').lower()}?"
    first_quote = last.citations[0].text if getattr(last, "citations", None) else ""
    person = person_name(previous) or quoted_person(first_quote)
    group = plural_phrase(previous) or plural_phrase(first_quote)
    replaced = _replace_pronoun(question, person, group)
    if replaced:
        return replaced
    # "When does it start?": the previous question's own subject, before a name its answer quotes
    about = person_name(previous) or group or person or " ".join(question_names(previous))
    return f"About {about}: {question}" if about else question


def is_speaker_question(question: str) -> bool:
    """ "Who said that?", "According to whom?": asks who said the last answer's first quote."""
    return _norm(question) in {_norm(p) for p in phrases("speaker_questions")}


def _facts(c) -> str:
    """ "“Title” (file, outlet, date)": where a citation comes from."""
    facts = [c.source] + [str(v) for a in ("outlet", "published") if (v := getattr(c, a, None))]
    return f"“{c.title}” ({', '.join(facts)})"


def speaker_answer(question: str, last, source_text=None):
    """Who said the last answer's first quote, as its own sentence attributes it, or that it names no
    one (the article's own words). `source_text(doc_id)`: the document's text, for "he said"."""
    from qa.answer import Answer
    from qa.answer.speakers import speaker

    cites = list(getattr(last, "citations", None) or [])
    first = (getattr(last, "quotes", None) or [c.id for c in cites])[:1]
    c = next((x for x in cites if x.id in first), None)
    if c is None:
        return Answer(question, "The previous answer quoted no source.", [])
    text = source_text(c.source) if source_text else None
    before = (
        text[max(0, c.start - 600) : c.start] if text and text[c.start : c.end] == c.text else ""
    )
    who, how = speaker(c.text, before)
    if how == "said":
        said = f"{who[:1].upper()}{who[1:]} said it [{c.id}], in {_facts(c)}."
    elif how:
        said = f"{_facts(c)} attributes it to {who} [{c.id}]."
    else:
        said = f"{_facts(c)} gives it in its own words and names no speaker [{c.id}]."
    return Answer(question, f"{said} “{c.text.strip()}” [{c.id}]", [c], quotes=(c.id,))


def sources_answer(question: str, last):
    """An answer naming where the last answer came from: each citation's title, file, date and outlet."""
    from qa.answer import Answer

    cites = list(getattr(last, "citations", None) or [])
    if not cites:
        text = "The previous answer quoted no source."
    else:
        seen: dict[str, list[int]] = {}
        for c in cites:
            seen.setdefault(c.source, []).append(c.id)
        parts = []
        for source, ids in seen.items():
            c = next(x for x in cites if x.source == source)
            parts.append(f"{_facts(c)} {''.join(f'[{i}]' for i in ids)}")
        text = "The previous answer quotes " + "; ".join(parts) + "."
    return Answer(question, text, cites, resolved_question=None)
