"""BM25 over the passages, with Snowball stemming and stop words for the corpus language.

The analyzer is shared by indexing, searching and highlighting, so "militairen" in a question
finds and marks "militair" in a passage. Numbers stay searchable as written: "3.337",
"3337" and "3,337" are one term, and so are "2,5" and "2.5"; number words are numbers too
("drie", "three" and "3").
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import (
    STOPWORDS_DANISH,
    STOPWORDS_DUTCH,
    STOPWORDS_EN,
    STOPWORDS_FRENCH,
    STOPWORDS_GERMAN,
    STOPWORDS_ITALIAN,
    STOPWORDS_NORWEGIAN,
    STOPWORDS_PORTUGUESE,
    STOPWORDS_SPANISH,
    STOPWORDS_SWEDISH,
)

# Language setting -> (Snowball stemmer, stop words).
LANGUAGES = {
    "nl": ("dutch", STOPWORDS_DUTCH),
    "en": ("english", STOPWORDS_EN),
    "de": ("german", STOPWORDS_GERMAN),
    "fr": ("french", STOPWORDS_FRENCH),
    "es": ("spanish", STOPWORDS_SPANISH),
    "it": ("italian", STOPWORDS_ITALIAN),
    "pt": ("portuguese", STOPWORDS_PORTUGUESE),
    "da": ("danish", STOPWORDS_DANISH),
    "sv": ("swedish", STOPWORDS_SWEDISH),
    "no": ("norwegian", STOPWORDS_NORWEGIAN),
}

# BM25's term-frequency saturation and length normalisation (bm25s' defaults; Milvus gets the same).
BM25_K1, BM25_B = 1.5, 0.75

# A word, or a number with its separators ("3.337", "2,5", "1.000.000").
_TOKEN = re.compile(r"\w+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*$")


def _fold(word: str) -> str:
    """Lower case without accents: "geïntegreerde" and "geintegreerde" are one word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Words that ask for a figure, in Dutch and in English ("how many", "how much": many, much).
_QUANTITY_WORDS = {
    "hoeveel", "hoeveelheid", "aantal", "bedrag", "bedroeg", "bedragen", "kost", "kostte", "kostten", "kosten",
    "percentage", "procent", "many", "much", "cost", "costs", "amount", "percent",
}

# Number words of Dutch and of English, which people also ask in. "een" and "one" are left out:
# far more often an article or a pronoun than a count. Magnitudes ("miljoen") stay words.
_NUMBER_WORDS = {
    word: str(value)
    for words in (
        "nul - twee drie vier vijf zes zeven acht negen tien elf twaalf dertien veertien vijftien "
        "zestien zeventien achttien negentien twintig",
        "zero - two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty",
    )
    for value, word in enumerate(words.split())
    if word != "-"
} | {
    "dertig": "30", "veertig": "40", "vijftig": "50", "zestig": "60", "zeventig": "70", "tachtig": "80",
    "negentig": "90", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
    "eighty": "80", "ninety": "90",
}


# Words that mark a question as English, beside bm25s' English stop words: people ask a Dutch
# corpus in English too, and then BM25 and "unknown words" mean little.
_ENGLISH_WORDS = frozenset(STOPWORDS_EN) | frozenset(
    "how what which who whom whose when where why many much did does do were has have had from "
    "been being can could would should about than".split()
)
# Question words of the corpus languages that are not in bm25s' stop word lists.
_QUESTION_WORDS = {"nl": {"welke", "welk", "hoeveel", "waar", "wanneer", "waarom", "waardoor", "waarmee"}}


def _number(token: str) -> str:
    if _THOUSANDS.match(token):
        return re.sub(r"[.,]", "", token)
    return token.replace(",", ".")


@dataclass(frozen=True)
class Term:
    """A word of a text as BM25 sees it: its stem, and where it stands in the text."""

    stem: str
    start: int
    end: int


class Analyzer:
    def __init__(self, language: str = "nl"):
        if language not in LANGUAGES:
            raise ValueError(f"QA_LANGUAGE={language!r} is not supported; choose one of {', '.join(LANGUAGES)}.")
        stemmer_name, stopwords = LANGUAGES[language]
        self.language = language
        self._stemmer = Stemmer.Stemmer(stemmer_name)
        self._stopwords = frozenset(_fold(w) for w in stopwords)
        # Words both languages write ("in", "is") tell neither.
        self._own_words = (self._stopwords | _QUESTION_WORDS.get(language, set())) - _ENGLISH_WORDS
        self._english_words = _ENGLISH_WORDS - self._stopwords
        # A word's stem depends on the word alone; a corpus repeats its words, so each is worked
        # out once (this is most of the time of indexing BM25, and of marking a question's words).
        self._stem_of = lru_cache(maxsize=262144)(self._token_stem)

    def _token_stem(self, token: str) -> str | None:
        """The term a token stands for, or None for a stop word or a single letter."""
        folded = _fold(token)
        if any(c.isdigit() for c in token):
            return _number(token)
        if folded in _NUMBER_WORDS:
            return _NUMBER_WORDS[folded]
        if len(folded) < 2 or folded in self._stopwords:
            return None
        return self._stemmer.stemWord(folded)

    def terms(self, text: str) -> list[Term]:
        stem_of = self._stem_of
        found = []
        for match in _TOKEN.finditer(text):
            stem = stem_of(match.group(0))
            if stem is not None:
                found.append(Term(stem, match.start(), match.end()))
        return found

    def english_share(self, text: str) -> float:
        """How much of the text's function words are English rather than the corpus language's:
        1 for a question asked in English of a Dutch corpus, 0 in Dutch (or when the corpus is
        English, or the text has no function words)."""
        if self.language == "en":
            return 0.0
        words = [_fold(w) for w in _TOKEN.findall(text)]
        english = sum(w in self._english_words for w in words)
        own = sum(w in self._own_words for w in words)
        return english / (english + own) if english + own else 0.0

    def asks_for_number(self, text: str) -> bool:
        """Whether the text asks for a figure ("hoeveel", "wat kostte", "how many"): then the
        sentence that answers it holds a number."""
        return any(_fold(word) in _QUANTITY_WORDS for word in _TOKEN.findall(text))

    def specifics(self, text: str) -> tuple[list[str], list[str]]:
        """The terms a question is most specific by: its names and acronyms (words written with a
        capital after the first word, or in capitals) and its numbers (years, amounts), as stems."""
        names, numbers = [], []
        for index, match in enumerate(_TOKEN.finditer(text)):
            token = match.group(0)
            numeric = any(c.isdigit() for c in token)
            named = (len(token) > 1 and token.isupper()) or (index > 0 and token[0].isupper())
            stem = self._stem_of(token) if numeric or named else None
            found = numbers if numeric else names
            if stem is not None and stem not in found:
                found.append(stem)
        return names, numbers

    def content_terms(self, text: str) -> list[Term]:
        """The words a text says something with: its terms without the function words of English
        either ("why", "them", "did"), which a corpus in another language keeps as terms."""
        return [term for term in self.terms(text) if _fold(text[term.start:term.end]) not in self._english_words]

    def stems(self, text: str) -> list[str]:
        stem_of = self._stem_of
        return [stem for stem in map(stem_of, _TOKEN.findall(text)) if stem is not None]


class LexicalIndex:
    """A bm25s index saved beside the vectors of a generation, memory-mapped when loaded."""

    def __init__(self, retriever: bm25s.BM25, analyzer: Analyzer):
        self.retriever = retriever
        self.analyzer = analyzer

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: Analyzer) -> "LexicalIndex":
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        retriever.index([analyzer.stems(text) for text in texts], show_progress=False)
        return cls(retriever, analyzer)

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, analyzer: Analyzer) -> "LexicalIndex":
        return cls(bm25s.BM25.load(str(directory), mmap=True, show_progress=False), analyzer)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """In how many passages each term stands (0 for a term no passage holds)."""
        vocabulary, indptr = self.retriever.vocab_dict, self.retriever.scores["indptr"]
        return {term: int(indptr[vocabulary[term] + 1] - indptr[vocabulary[term]]) if term in vocabulary else 0
                for term in terms}

    def scores(self, question: str) -> np.ndarray | None:
        """The BM25 score of every passage for the question; None if it shares no term with any."""
        vocabulary = self.retriever.vocab_dict
        ids = [vocabulary[s] for s in dict.fromkeys(self.analyzer.stems(question)) if s in vocabulary]
        return self.retriever.get_scores(ids) if ids else None

    def ranking(self, question: str, k: int) -> "ScoredRanking | None":
        """The `k` best passages for the question, scored all at once; None without a shared term."""
        scores = self.scores(question)
        return None if scores is None else ScoredRanking(top_rows(scores, k), scores)


@dataclass(frozen=True)
class ScoredRanking:
    """A BM25 ranking with the scores of every passage (index.lexical_search.LexicalRanking)."""

    top: list[tuple[int, float]]
    every_score: np.ndarray

    def scores(self, rows) -> np.ndarray:
        return self.every_score[np.asarray(rows, dtype=np.int64)]



def inverse_document_frequency(frequency: int, passages: int) -> float:
    """BM25's idf of a term in `frequency` of `passages` passages, as bm25s and Milvus compute it:
    a term no passage holds is the rarest."""
    return math.log(1 + (passages - frequency + 0.5) / (frequency + 0.5))


def top_rows(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best rows with a positive score, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(row), float(scores[row])) for row in top if scores[row] > 0]
