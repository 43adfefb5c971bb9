"""How close Milvus's own text analysis comes to the service's Dutch analyzer (lexical.py), and
what that would cost in retrieval: the reason the Milvus backend hands Milvus the service's terms.

Three analyzers over the chapter and the held-out corpus:

  service      lexical.Analyzer: words folded, Dutch stop words out, Snowball Dutch stems,
               numbers as written ("3.337" = "3337" = "3,337"), number words as numbers
  lite         what Milvus Lite (3.x, the embedded form the tests run) can do: its only tokenizer,
               `standard` (runs of word characters, lower case) with the same stop words; it has
               no stemmer, and ignores any filter but `stop`
  server       a Milvus server's Dutch analyzer, emulated: the standard tokenizer (splits at
               anything but letters and digits), lowercase, asciifolding, the same stop words,
               the Snowball Dutch stemmer (PyStemmer here; Milvus uses tantivy's)

For each: how many distinct terms, how many number tokens stay one term, how often two words
the service conflates are conflated too, and BM25 alone (bm25s, the same scoring Milvus does)
on the 70 dev and held-out questions: hit@1 and recall@3.

    .venv/bin/python benchmarks/milvus_analyzer.py
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH
from corpora import CHAPTER, ROOT
from measuring import QUESTION_FILES
from milvus_lite.analyzer.factory import create_analyzer

from qa_service.documents import corpus_files
from qa_service.evaluation import is_answer, read_questions
from qa_service.index import file_digests, read_corpus
from qa_service.lexical import BM25_B, BM25_K1, Analyzer

HELD_OUT = ROOT / "tests" / "fixtures" / "heldout" / "corpus"
NUMBER = re.compile(r"\d+(?:[.,]\d+)+")


def service_terms() -> callable:
    return Analyzer("nl").stems


def lite_terms() -> callable:
    analyzer = create_analyzer({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": list(STOPWORDS_DUTCH)}]})
    return analyzer.tokenize


def server_terms() -> callable:
    stemmer, stop = Stemmer.Stemmer("dutch"), frozenset(STOPWORDS_DUTCH)

    def fold(word: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))

    def terms(text: str) -> list[str]:
        words = [fold(w) for w in re.findall(r"[^\W_]+", text)]
        return [stemmer.stemWord(w) for w in words if w not in stop]

    return terms


ANALYZERS = {"service": service_terms(), "lite": lite_terms(), "server": server_terms()}


def main() -> None:
    sources = sorted(corpus_files(HELD_OUT)) + [(CHAPTER, CHAPTER.name)]
    passages = read_corpus(sources, file_digests(sources)).passages
    texts = [p.contextual_text() for p in passages]
    questions = [q for path in QUESTION_FILES for q in read_questions(path)]
    words = sorted({w for text in texts for w in re.findall(r"\w+(?:[.,]\d+)*", text)})
    numbers = sorted({n for text in texts for n in NUMBER.findall(text)})
    service = ANALYZERS["service"]
    # Pairs of distinct words the service counts as one term (its stemming and number folding).
    groups = defaultdict(set)
    for word in words:
        for term in service(word):
            groups[term].add(word)
    pairs = [(a, b) for group in groups.values() for a in group for b in group if a < b]
    print(f"{len(passages)} passages, {len(words)} distinct words, {len(numbers)} distinct numbers with separators, "
          f"{len(questions)} questions; {len(pairs)} word pairs the service makes one term\n")
    print(f"{'analyzer':<8} {'terms':>6} {'numbers whole':>14} {'pairs kept':>11} {'hit@1':>12} {'recall@3':>12}")
    for name, terms in ANALYZERS.items():
        vocabulary = {t for text in texts for t in terms(text)}
        whole = sum(len(terms(n)) == 1 for n in numbers)
        kept = sum(bool(terms(a)) and terms(a) == terms(b) for a, b in pairs)
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        retriever.index([terms(text) for text in texts], show_progress=False)
        first = three = 0
        for question in questions:
            ids = [retriever.vocab_dict[t] for t in dict.fromkeys(terms(question.question)) if t in retriever.vocab_dict]
            if not ids:
                continue
            scores = retriever.get_scores(ids)
            ranked = [int(r) for r in scores.argsort()[::-1][:3] if scores[r] > 0]

            class Hit:  # what evaluation.is_answer reads
                def __init__(self, row):
                    self.passage = passages[row]

            found = [rank for rank, row in enumerate(ranked, 1) if is_answer(Hit(row), question)]
            first += bool(found and found[0] == 1)
            three += bool(found)
        n = len(questions)
        print(f"{name:<8} {len(vocabulary):>6} {whole:>7}/{len(numbers):<6} {kept:>5}/{len(pairs):<5} "
              f"{first / n:>5.2f} ({first}/{n}) {three / n:>5.2f} ({three}/{n})")


if __name__ == "__main__":
    main()
