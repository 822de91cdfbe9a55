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
_EMOTICON_NEG = re.compile(
    r"(?:(?<![\w/])(?::'|[:=])-?[(\[{/\\|@](?!\w)|>:-?[(\[]|</3|-_-|\bT_T\b)"
)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_ELONGATED = re.compile(r"(\w)\1{2,}")
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
    "can you", "could you", "would you", "can i", "could i", "can someone", "i'd like",
    "i would like", "i want to", "i need", "need to", "let me know",
)
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


def normalise(text: str) -> tuple[str, int, int]:
    """Lower-case text with URLs, mentions, emoticons and emoji replaced by placeholder words.

    Returns the text and the numbers of positive and negative emoticons/emoji.
    """
    text = html.unescape(text).replace("\x85", "...").replace("’", "'")
    text = _URL.sub(" url ", text)
    text = _MENTION.sub(" @user ", text)
    text, n_pos = _EMOTICON_POS.subn(f" {EMO_POS} ", text)
    text, n_neg = _EMOTICON_NEG.subn(f" {EMO_NEG} ", text)
    if _HIGH_CHAR.search(text):
        text = _EMOJI_MODIFIERS.sub("", text)
        polarities = [EMOJI_POLARITY[m] for m in _EMOJI.findall(text)]
        n_pos += sum(1 for value in polarities if value > 0)
        n_neg += sum(1 for value in polarities if value < 0)
        text = _EMOJI.sub(_emoji_word, text)
    text = _ELONGATED.sub(r"\1\1", text).lower()
    return " ".join(text.split()), n_pos, n_neg


def _is_negation(token: str) -> bool:
    return token in NEGATIONS or token.endswith("n't")


def mark_negation(tokens: Sequence[str]) -> list[str]:
    """Suffix ``_neg`` to up to four words after a negation, stopping at a clause boundary."""
    marked: list[str] = []
    remaining = 0
    for token in tokens:
        if token in _CLAUSE_END or token[0] in "!?":
            remaining = 0
            marked.append(token)
        elif _is_negation(token):
            remaining = _NEGATION_SCOPE
            marked.append(token)
        elif remaining > 0:
            remaining -= 1
            marked.append(token + "_neg")
        else:
            marked.append(token)
    return marked


def _lexicon_scores(
    tokens: Sequence[str], lexicon: Mapping[str, float]
) -> tuple[float, float, int, int, int, int]:
    """Positive sum, negative sum, counts of each, negations and intensifiers (VADER-like)."""
    pos = neg = 0.0
    n_pos = n_neg = n_negations = n_boost = 0
    remaining = 0
    contrast_seen = False
    for i, token in enumerate(tokens):
        if token in _CLAUSE_END or token[0] in "!?":
            remaining = 0
            if token in _CONTRAST:
                contrast_seen = True
            continue
        if _is_negation(token):
            n_negations += 1
            remaining = _NEGATION_SCOPE
            continue
        if token in BOOSTERS:
            n_boost += 1
        previous = tokens[i - 1] if i > 0 else ""
        if token in (EMO_POS, EMO_NEG):
            value = 2.0 if token == EMO_POS else -2.0
        elif token in _REQUEST_LEXICON_SKIP or (token == "like" and previous in _WOULD):
            value = 0.0
        else:
            value = lexicon.get(token, 0.0)
        if remaining > 0:
            remaining -= 1
            value *= _NEGATION_SCALE
        if value == 0.0:
            continue
        if previous in BOOSTERS:
            value *= _BOOST
        elif previous in DAMPENERS:
            value *= _DAMPEN
        # VADER: sentiment after "but" dominates the clause before it.
        weight = 1.5 if contrast_seen else 1.0
        if value > 0:
            pos += value * weight
            n_pos += 1
        else:
            neg -= value * weight
            n_neg += 1
    return pos, neg, n_pos, n_neg, n_negations, n_boost


def prepare(text: str, lexicon: Mapping[str, float]) -> Prepared:
    """Normalise one text and compute its word n-grams and dense features."""
    norm, emo_pos, emo_neg = normalise(text)
    tokens = _TOKEN.findall(norm)
    marked = mark_negation(tokens)
    words = marked + [f"{a} {b}" for a, b in itertools.pairwise(marked)]
    pos, neg, n_pos, n_neg, n_negations, n_boost = _lexicon_scores(tokens, lexicon)
    compound = math.tanh((pos - neg) / 4.0)

    stripped = text.strip()
    n_letters = sum(map(str.isalpha, stripped))
    caps_ratio = sum(map(str.isupper, stripped)) / n_letters if n_letters >= 4 else 0.0
    caps_words = sum(1 for w in stripped.split() if len(w) >= 2 and w.isalpha() and w.isupper())
    shouting = 1.0 if caps_ratio > 0.7 or caps_words >= 3 else 0.0
    n_question = stripped.count("?")
    n_exclaim = stripped.count("!")
    word_tokens = [t for t in tokens if t[0].isalnum()]
    first = word_tokens[0] if word_tokens else ""
    ends_question = 1.0 if _TRAILER.sub("", norm).endswith("?") else 0.0
    question_start = 1.0 if first in _QUESTION_START else 0.0
    request = 1.0 if (
        any(t in _REQUEST_WORDS for t in tokens) or any(p in norm for p in _REQUEST_PHRASES)
    ) else 0.0
    no_opinion = 1.0 if pos == 0.0 and neg == 0.0 else 0.0
    asking = max(ends_question, question_start, request)
    dense = [
        pos / 4.0,
        neg / 4.0,
        float(n_pos),
        float(n_neg),
        compound,
        float(n_negations),
        float(emo_pos),
        float(emo_neg),
        float(min(n_question, 3)),
        ends_question,
        question_start,
        request,
        float(min(n_exclaim, 3)),
        caps_ratio,
        shouting,
        math.log1p(len(word_tokens)),
        1.0 if len(word_tokens) <= 3 else 0.0,
        no_opinion,
        asking * no_opinion,
        asking * (1.0 - abs(compound)),
        1.0 if any(t in _CONTRAST for t in tokens) else 0.0,
        float(n_boost),
        shouting * compound,
        (1.0 if n_exclaim else 0.0) * compound,
    ]
    return Prepared(norm, words, dense)


def prepare_many(texts: Iterable[str], lexicon: Mapping[str, float]) -> list[Prepared]:
    """``prepare`` every text (the first step of the model pipeline)."""
    return [prepare(text, lexicon) for text in texts]


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
