"""Text normalisation, negation-aware tokens and lexicon features for the sentiment model."""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

# Bump whenever the output of anything in this module changes: it is part of the model cache key.
FEATURE_VERSION = "1"

EMO_POS = "emopos"
EMO_NEG = "emoneg"

# Hand-picked emoji polarities on VADER's -4..+4 scale. Skin-tone modifiers and the
# variation selector are stripped before lookup.
EMOJI_POLARITY: Mapping[str, float] = {
    **dict.fromkeys("😀😃😄😁😆😊🙂☺😇😉😋😎🤗🤩🥳🎉🎊✨🌟⭐💯✅🆒", 2.0),
    **dict.fromkeys("😍🥰😘❤💕💖💗💓💞💙💚💛💜🧡🤍🖤♥😻", 3.0),
    **dict.fromkeys("👍👌🙌👏💪🙏🤝🏆🥇🔥😂🤣😅", 1.5),
    **dict.fromkeys("😐😑🙄😕😬😳🤨😶😏", -1.0),
    **dict.fromkeys("🙁☹😞😟😔😒😓😥😢😭😩😫😖😣😿💔👎❌🚫⛔", -2.0),
    **dict.fromkeys("😡😠🤬😤🤮🤢💩🖕😱😰", -3.0),
}
_EMOJI_MODIFIERS = re.compile("[\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_EMOJI = re.compile("[" + "".join(EMOJI_POLARITY) + "]")
_HIGH_CHAR = re.compile("[\u2000-\U0010ffff]")

# Western emoticons (matched case-sensitively, before lower-casing).
_EMOTICON_POS = re.compile(
    r"(?:(?<![\w/])[:;=][-'o^]?[)\]}D>pP3*](?!\w)|(?<!\w)[xX][dD](?!\w)|<3+|\^_*\^|\(:)"
)
_EMOTICON_NEG = re.compile(r"(?:(?<![\w/])(?::'|[:=])-?[(\[{/\\|@](?!\w)|>:-?[(\[]|</3|-_-|\bT_T\b)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_ELONGATED = re.compile(r"(\w)\1{2,}")
# Every URL, mention and emoticon pattern above needs one of these (a superset test).
_MAYBE_MARKUP = re.compile(r"[:;=<>^(@_]|www|xd", re.IGNORECASE)
# What may follow a question mark at the end of a message: emoji, dots, exclamation marks.
_TRAILER = re.compile(rf"(?:[\s.!]|\b{EMO_POS}\b|\b{EMO_NEG}\b)+$")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*|[!?]+|[.,;:]|[^\s\w]", re.UNICODE)
_CLAUSE_END = frozenset({".", ",", ";", ":", "!", "?", "but", "however", "though", "although"})
_CONTRAST = frozenset({"but", "however", "though", "although"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATIONS = _words(
    "not no never nothing nobody none nowhere neither nor cannot without hardly barely "
    "aint arent cant couldnt didnt doesnt dont hadnt hasnt havent isnt mightnt mustnt "
    "neednt shant shouldnt wasnt werent wont wouldnt nope"
)
BOOSTERS = _words(
    "absolutely completely especially extremely fully greatly highly hugely incredibly "
    "particularly quite really remarkably so soo super thoroughly totally truly "
    "unbelievably utterly very way too most"
)
DAMPENERS = _words("almost barely hardly kinda slightly somewhat little bit partly")
_QUESTION_START = _words(
    "what whats where wheres when why how who whos which whose is are am was were do does "
    "did can could would will should shall may might has have any anyone anybody"
)
_REQUEST_WORDS = _words("please pls plz kindly")
# Lexicon words that in customer messages mostly form requests, not opinions.
_REQUEST_LEXICON_SKIP = _words("please pls plz kindly help want")
_WOULD = frozenset({"would", "i'd", "we'd", "you'd"})
_REQUEST_PHRASES = (
    "can you",
    "could you",
    "would you",
    "can i",
    "could i",
    "can someone",
    "i'd like",
    "i would like",
    "i want to",
    "i need",
    "need to",
    "let me know",
)
# One pass over the text finds whichever phrase occurs (same answer as one search per phrase).
_REQUEST_PHRASE = re.compile("|".join(map(re.escape, _REQUEST_PHRASES)))
_SHOUTED_ASCII = re.compile(r"(?<!\S)[A-Z]{2,}(?!\S)")
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_NEGATION_SCOPE = 4
_NEGATION_SCALE = -0.74
_BOOST = 1.3
_DAMPEN = 0.7
N_DENSE = 24


class Prepared(NamedTuple):
    """One text after normalisation: char-level text, word features and dense features."""

    text: str
    words: list[str]
    dense: list[float]


def load_lexicon(path: Path) -> dict[str, float]:
    """Read a VADER-format lexicon (``token<TAB>mean<TAB>...``), lower-cased."""
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 2 and parts[0]:
            lexicon[parts[0].lower()] = float(parts[1])
    return lexicon


def _emoji_word(match: re.Match[str]) -> str:
    return f" {EMO_POS} " if EMOJI_POLARITY[match.group()] > 0 else f" {EMO_NEG} "


def unescape(text: str) -> str:
    """HTML entities resolved and typographic apostrophes / cp1252 ellipses made plain.

    The one step of ``normalise`` that may create or remove whitespace, so it runs on the
    whole text before the text is split into words.
    """
    return html.unescape(text).replace("\x85", "...").replace("’", "'")


def normalise_word(word: str) -> tuple[list[str], int, int]:
    """``normalise`` for one whitespace-free word of ``unescape``'s output.

    Returns the normalised words it becomes (a URL, mention, emoticon or emoji turns into a
    placeholder word of its own) and its numbers of positive and negative emoticons/emoji.
    No pattern below matches across whitespace, and at a word's edge every look-around sees
    the same as at whitespace, so normalising word by word equals normalising the text.
    """
    if word.isascii() and not _MAYBE_MARKUP.search(word):
        # Most words hold nothing a URL, mention or emoticon needs: only elongation and case.
        return [_shorten_elongation(word).lower()], 0, 0
    return _normalise_markup(word)


def _shorten_elongation(text: str) -> str:
    # Searching first is cheaper than a substitution with a group template that rarely applies.
    return _ELONGATED.sub(r"\1\1", text) if _ELONGATED.search(text) else text


def _normalise_markup(word: str) -> tuple[list[str], int, int]:
    text = _URL.sub(" url ", word)
    text = _MENTION.sub(" @user ", text)
    text, n_pos = _EMOTICON_POS.subn(f" {EMO_POS} ", text)
    text, n_neg = _EMOTICON_NEG.subn(f" {EMO_NEG} ", text)
    if _HIGH_CHAR.search(text):
        text = _EMOJI_MODIFIERS.sub("", text)
        polarities = [EMOJI_POLARITY[m] for m in _EMOJI.findall(text)]
        n_pos += sum(1 for value in polarities if value > 0)
        n_neg += sum(1 for value in polarities if value < 0)
        text = _EMOJI.sub(_emoji_word, text)
    return _shorten_elongation(text).lower().split(), n_pos, n_neg


def normalise(text: str) -> tuple[str, int, int]:
    """Lower-case text with URLs, mentions, emoticons and emoji replaced by placeholder words.

    Returns the text and the numbers of positive and negative emoticons/emoji.
    """
    words: list[str] = []
    n_pos = n_neg = 0
    for word in unescape(text).split():
        normalised, word_pos, word_neg = normalise_word(word)
        words += normalised
        n_pos += word_pos
        n_neg += word_neg
    return " ".join(words), n_pos, n_neg


def tokens_of(normalised: str) -> list[str]:
    """Word, punctuation and placeholder tokens of normalised text (never spanning a space)."""
    return _TOKEN.findall(normalised)


# Bits of ``TokenRole.flags``: what a token does in the negation / lexicon scan.
CLAUSE_END = 1
CONTRAST = 2
NEGATION = 4
BOOSTER = 8
DAMPENER = 16
WOULD = 32
LIKE = 64
WORD = 128
QUESTION_START = 256
REQUEST_WORD = 512


class TokenRole(NamedTuple):
    """What the scan needs to know about one token: ``flags`` bits and its lexicon value."""

    flags: int
    value: float  # lexicon rating as scanned: emoji +-2, request words 0


def token_role(token: str, lexicon: Mapping[str, float]) -> TokenRole:
    """The role of ``token`` (a function of the token and the lexicon alone, so cacheable)."""
    flags = 0
    if token in _CLAUSE_END or token[0] in "!?":
        flags |= CLAUSE_END
        if token in _CONTRAST:
            flags |= CONTRAST
    elif token in NEGATIONS or token.endswith("n't"):
        flags |= NEGATION
    if token in BOOSTERS:
        flags |= BOOSTER
    if token in DAMPENERS:
        flags |= DAMPENER
    if token in _WOULD:
        flags |= WOULD
    if token == "like":
        flags |= LIKE
    if token[0].isalnum():
        flags |= WORD
    if token in _QUESTION_START:
        flags |= QUESTION_START
    if token in _REQUEST_WORDS:
        flags |= REQUEST_WORD
    if token in (EMO_POS, EMO_NEG):
        value = 2.0 if token == EMO_POS else -2.0
    elif token in _REQUEST_LEXICON_SKIP:
        value = 0.0
    else:
        value = lexicon.get(token, 0.0)
    return TokenRole(flags, value)


class TokenScan(NamedTuple):
    """One pass over a text's tokens: negation marks and VADER-like lexicon sums."""

    negated: list[bool]  # per token: inside a negation's scope (gets the ``_neg`` suffix)
    pos: float
    neg: float
    n_pos: int
    n_neg: int
    n_negations: int
    n_boost: int
    n_words: int  # tokens that start with a letter or digit
    question_start: bool  # the first such token opens a question ("what", "can", ...)
    request_word: bool
    contrast: bool


def scan_tokens(roles: Iterable[TokenRole]) -> TokenScan:
    """Mark negation scopes (up to four tokens, ended by a clause boundary) and sum the lexicon.

    ``roles`` are the ``TokenRole`` of a text's tokens. A negation scales the lexicon value
    of the words in its scope by -0.74, a booster or dampener before a word scales it, and
    after "but" (and the like) values count 1.5 times.
    """
    negated: list[bool] = []
    mark = negated.append
    pos = neg = 0.0
    n_pos = n_neg = n_negations = n_boost = n_words = 0
    remaining = 0
    contrast_seen = question_start = request_word = False
    previous = 0
    for flag, value in roles:
        if flag == WORD and not remaining and not value:
            # Most tokens: a plain word outside any negation scope with no lexicon value.
            n_words += 1
            mark(False)
            previous = flag
            continue
        if flag & WORD:
            if not n_words:
                question_start = bool(flag & QUESTION_START)
            n_words += 1
        if flag & REQUEST_WORD:
            request_word = True
        if flag & CLAUSE_END:
            remaining = 0
            if flag & CONTRAST:
                contrast_seen = True
            mark(False)
        elif flag & NEGATION:
            n_negations += 1
            remaining = _NEGATION_SCOPE
            mark(False)
        else:
            if flag & BOOSTER:
                n_boost += 1
            if flag & LIKE and previous & WOULD:
                value = 0.0
            if remaining > 0:
                remaining -= 1
                value *= _NEGATION_SCALE
                mark(True)
            else:
                mark(False)
            if value != 0.0:
                if previous & BOOSTER:
                    value *= _BOOST
                elif previous & DAMPENER:
                    value *= _DAMPEN
                # VADER: sentiment after "but" dominates the clause before it.
                weight = 1.5 if contrast_seen else 1.0
                if value > 0:
                    pos += value * weight
                    n_pos += 1
                else:
                    neg -= value * weight
                    n_neg += 1
        previous = flag
    return TokenScan(
        negated,
        pos,
        neg,
        n_pos,
        n_neg,
        n_negations,
        n_boost,
        n_words,
        question_start,
        request_word,
        contrast_seen,
    )


def mark_negation(tokens: Sequence[str]) -> list[str]:
    """Suffix ``_neg`` to up to four words after a negation, stopping at a clause boundary."""
    scan = scan_tokens([token_role(token, {}) for token in tokens])
    return [token + "_neg" if negated else token for token, negated in zip(tokens, scan.negated, strict=True)]


def dense_features(text: str, normalised: str, *, emoticons: tuple[int, int], scan: TokenScan) -> list[float]:
    """The ``N_DENSE`` lexicon and surface features of a text (raw and normalised form)."""
    pos, neg = scan.pos, scan.neg
    compound = math.tanh((pos - neg) / 4.0)
    stripped = text.strip()
    n_letters, n_upper = _letter_counts(stripped)
    caps_ratio = n_upper / n_letters if n_letters >= 4 else 0.0
    # Three shouted words hold at least three upper-case letters: most texts skip the count.
    shouting = 1.0 if caps_ratio > 0.7 or (n_upper >= 3 and _shouted_words(stripped) >= 3) else 0.0
    n_question = stripped.count("?")
    n_exclaim = stripped.count("!")
    ends_question = 1.0 if "?" in normalised and _TRAILER.sub("", normalised).endswith("?") else 0.0
    question_start = 1.0 if scan.question_start else 0.0
    request = 1.0 if scan.request_word or _REQUEST_PHRASE.search(normalised) else 0.0
    no_opinion = 1.0 if pos == 0.0 and neg == 0.0 else 0.0
    asking = max(ends_question, question_start, request)
    return [
        pos / 4.0,
        neg / 4.0,
        float(scan.n_pos),
        float(scan.n_neg),
        compound,
        float(scan.n_negations),
        float(emoticons[0]),
        float(emoticons[1]),
        float(min(n_question, 3)),
        ends_question,
        question_start,
        request,
        float(min(n_exclaim, 3)),
        caps_ratio,
        shouting,
        math.log1p(scan.n_words),
        1.0 if scan.n_words <= 3 else 0.0,
        no_opinion,
        asking * no_opinion,
        asking * (1.0 - abs(compound)),
        1.0 if scan.contrast else 0.0,
        float(scan.n_boost),
        shouting * compound,
        (1.0 if n_exclaim else 0.0) * compound,
    ]


def _shouted_words(text: str) -> int:
    """Words of two or more letters, all upper case."""
    if text.isascii():
        # In ASCII exactly [A-Z]{2,} between whitespace (regex \s is str.isspace).
        return len(_SHOUTED_ASCII.findall(text))
    return sum(1 for w in text.split() if len(w) >= 2 and w.isalpha() and w.isupper())


def _letter_counts(text: str) -> tuple[int, int]:
    """Letters and upper-case letters in ``text`` (``str.isalpha`` / ``str.isupper`` per char)."""
    if text.isascii():
        # For ASCII the two are exactly A-Z/a-z and A-Z; counting by deletion runs in C.
        raw = text.encode("ascii")
        lower = len(raw) - len(raw.translate(None, _ASCII_LOWER))
        upper = len(raw) - len(raw.translate(None, _ASCII_UPPER))
        return lower + upper, upper
    return sum(map(str.isalpha, text)), sum(map(str.isupper, text))


def prepare(text: str, lexicon: Mapping[str, float]) -> Prepared:
    """Normalise one text and compute its word n-grams and dense features."""
    return prepare_many([text], lexicon)[0]


def prepare_many(texts: Iterable[str], lexicon: Mapping[str, float]) -> list[Prepared]:
    """``prepare`` every text (the first step of the model pipeline)."""
    roles: dict[str, TokenRole] = {}
    prepared: list[Prepared] = []
    for text in texts:
        norm, emo_pos, emo_neg = normalise(text)
        tokens = tokens_of(norm)
        for token in tokens:
            if token not in roles:
                roles[token] = token_role(token, lexicon)
        scan = scan_tokens([roles[t] for t in tokens])
        marked = [t + "_neg" if m else t for t, m in zip(tokens, scan.negated, strict=True)]
        words = marked + [f"{a} {b}" for a, b in itertools.pairwise(marked)]
        dense = dense_features(text, norm, emoticons=(emo_pos, emo_neg), scan=scan)
        prepared.append(Prepared(norm, words, dense))
    return prepared


def prepared_text(doc: Prepared) -> str:
    """Normalised text, for the character n-gram vectoriser."""
    return doc.text


def prepared_words(doc: Prepared) -> list[str]:
    """Negation-marked word unigrams and bigrams, for the word vectoriser."""
    return doc.words


def prepared_dense(docs: Sequence[Prepared]) -> npt.NDArray[np.float64]:
    """Dense lexicon and surface features as an ``(n, N_DENSE)`` array."""
    if not docs:
        return np.zeros((0, N_DENSE))
    return np.asarray([doc.dense for doc in docs], dtype=np.float64)
