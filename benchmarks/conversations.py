"""Follow-up questions: the grid the conversation weights were chosen from, and what five
turns of history cost.

    .venv/bin/python benchmarks/conversations.py grid [--split choose]
    .venv/bin/python benchmarks/conversations.py timing [--repeats 3]

Both read tests/fixtures/followups.jsonl and search an index over the chapter and the held-out
documents (built once into benchmarks/results/conversations/, then reused).

`grid` asks every conversation of a split with each combination of weights
(search.ConversationWeights) and prints follow-up hit@1 / recall@3 and topic-switch hit@1 with
history, beside the figures without. The weights are chosen on `choose` (the default): the
highest follow-up recall@3, then hit@1, among the combinations whose topic switches lose
nothing; among those that tie, the one that reads the fewest topic switches with their history,
then the most follow-ups, then the lowest follow_up_below (a question its own passages answer
well is read alone); it is printed first, and where the other weights still tie, those in use
stay. `--split report` only checks a choice. Question vectors are kept across the grid
(a question is embedded once), which the service itself never does.

`timing` asks the last question of every conversation without history and with five turns
of history as the chat page sends them (the questions and the ids of the passages each got),
interleaved, and prints the median of the per-question ratios; also with five turns of
questions alone (as `qa-service ask --after` sends them), which costs a model call.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
from pathlib import Path

from qa_service.config import Settings
from qa_service.embedder import load_embedder
from qa_service.evaluation import Conversation, conversation_history, evaluate_conversations, read_conversations
from qa_service.index import LiveIndex, build_index, is_up_to_date
from qa_service.search import ConversationWeights, Searcher, Turn

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "followups.jsonl"
DOCUMENTS = [ROOT / "corpus" / "beleidsthema-2-vrede-veiligheid-stabiliteit.txt",
             *sorted((ROOT / "tests" / "fixtures" / "heldout" / "corpus").glob("*.txt"))]
RESULTS = ROOT / "benchmarks" / "results" / "conversations"
GRID = {
    "follow_up_below": (0.5, 0.6, 0.7, 0.8, 0.9),
    "own_terms": (4, 5, 6, 7, 99),
    "turns": (1, 2),
    "passages": (1,),
    "term_weight": (0.25, 0.5),
    "vector_weight": (0.25, 0.5, 1.0),
}


class RememberingEmbedder:
    """The model, with each question embedded once for the whole grid."""

    def __init__(self, embedder):
        self.embedder, self.name, self.vectors = embedder, embedder.name, {}

    def embed_queries(self, texts):
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embedder.embed_queries(missing)))
        return [self.vectors[t] for t in texts]


def live_index(embedder) -> tuple[Settings, LiveIndex]:
    corpus = RESULTS / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for document in DOCUMENTS:
        if not (corpus / document.name).exists():
            shutil.copy(document, corpus / document.name)
    settings = Settings.from_env().with_changes(corpus_dir=corpus, index_dir=RESULTS / "index", milvus_uri="",
                                                index_backend="faiss")
    if not is_up_to_date(settings, embedder):
        build_index(settings, embedder, progress=True)
    return settings, LiveIndex(settings, embedder)


def grid(searcher: Searcher, conversations: list[Conversation]) -> None:
    rows = []
    names = list(GRID)
    for values in itertools.product(*GRID.values()):
        weights = ConversationWeights(**dict(zip(names, values)))
        results = {r.kind: r for r in evaluate_conversations(replace_weights(searcher, weights), conversations)}
        follow, switch = results["followup"], results["switch"]
        keeps = switch.with_history.hit_at_1 >= switch.without_history.hit_at_1
        rank = (keeps, follow.with_history.recall_at_3, follow.with_history.hit_at_1, -switch.understood,
                follow.understood, -weights.follow_up_below)
        rows.append((rank, values, follow, switch))
    follow, switch = rows[0][2], rows[0][3]
    print(f"{len(conversations)} conversations: {follow.conversations} follow-ups, {switch.conversations} topic switches")
    print(f"without history: follow-up hit@1 {follow.without_history.hit_at_1:.2f} recall@3 "
          f"{follow.without_history.recall_at_3:.2f}; switch hit@1 {switch.without_history.hit_at_1:.2f}\n")
    print(" ".join(f"{n:>15}" for n in names) + f" {'fu hit@1':>9} {'fu rec@3':>9} {'sw hit@1':>9} {'fu read':>8} {'sw read':>8}")
    for (keeps, *_), values, follow, switch in sorted(rows, key=lambda r: r[0], reverse=True)[:25]:
        print(" ".join(f"{v:>15}" for v in values) + f" {follow.with_history.hit_at_1:>9.2f} "
              f"{follow.with_history.recall_at_3:>9.2f} {switch.with_history.hit_at_1:>9.2f} "
              f"{follow.understood:>8.2f} {switch.understood:>8.2f}" + ("" if keeps else "  (switches lose)"))


def replace_weights(searcher: Searcher, weights: ConversationWeights) -> Searcher:
    return Searcher(searcher.embedder, searcher.live_index, searcher.confidence, weights)


def timing(searcher: Searcher, conversations: list[Conversation], repeats: int) -> None:
    ratios: dict[str, list[float]] = {"chat page (questions and passage ids)": [], "questions alone": []}
    for conversation in conversations:
        # Five earlier turns: the conversation's own, after turns of other conversations.
        others = [c.last.question for c in conversations if c is not conversation][: 5 - len(conversation.earlier)]
        chat = conversation_history(searcher, [*others, *conversation.earlier])
        histories = {"chat page (questions and passage ids)": chat,
                     "questions alone": [Turn(turn.question) for turn in chat]}
        question = conversation.last.question
        for _ in range(repeats):
            for label, history in histories.items():
                alone = searcher.ask(question).took_ms
                ratios[label].append(searcher.ask(question, history=history).took_ms / alone)
    for label, values in ratios.items():
        print(f"{label:<40} median time with 5 turns / without: {statistics.median(values):.3f} "
              f"(n={len(values)}; target <= 1.15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["grid", "timing"])
    parser.add_argument("--split", choices=["choose", "report"], default="choose")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    embedder = load_embedder(Settings.from_env())
    settings, index = live_index(embedder)
    conversations = [c for c in read_conversations(FIXTURE) if c.split == args.split]
    if args.what == "grid":
        grid(Searcher(RememberingEmbedder(embedder), index), conversations)
    else:
        timing(Searcher(embedder, index), conversations, args.repeats)
    index.close()


if __name__ == "__main__":
    main()
