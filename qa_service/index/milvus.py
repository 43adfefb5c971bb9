"""The Milvus backend: a generation is a collection in Milvus, a server, a cluster or Milvus Lite
(its embedded form, a local folder named *.db), and `CURRENT` is an alias moved in one call.

A generation `<alias>_<generation>` holds a row per passage: its citation fields and text, its
embedding key, `dense` (the passage vector, indexed by size as with FAISS: FLAT, HNSW or
IVF_FLAT), `terms` (the contextual text as the service's Dutch analyzer reads it: stems, no stop
words, numbers as written) with `bm25`, the sparse vector Milvus's BM25 function makes of them,
and `sentences` (each sentence's int8 vector in base64: only ever fetched by row, so a scalar
field that a Milvus cluster can keep on disk, where a vector field must be indexed and held in
memory). Beside it, `<alias>_<generation>_documents` holds each document's summary, section
headings and numbered lines, in parts that fit Milvus's 64 KB strings. The manifest is a
property of the passage collection, set last: a collection without one is half-written.

A build writes both collections, loads them, then moves the alias: requests in flight finish on
the collection they started with. The last two generations are kept; rolling back is moving the
alias back (docs/scaling.md). Any failure of Milvus is an IndexUnavailableError (503), and the
next request tries again, so the service recovers when Milvus is back.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..config import Settings
from ..documents import Line
from ..embedder import Embedder
from ..lexical import BM25_B, BM25_K1, Analyzer
from ..passages import Citation, Passage
from .generation import (
    IndexUnavailableError,
    IndexUnreachableError,
    NewGeneration,
    NoIndexError,
    check_manifest,
)
from .store import DocumentSummary, take_turns
from .vector_cache import dequantized
from .vector_search import IndexType

log = logging.getLogger(__name__)

MANIFEST = "qa_service.manifest"  # the collection property that holds a generation's manifest
DOCUMENTS_SUFFIX = "_documents"
TERMS_SUFFIX = "_terms"  # each term's document frequency, which confidence weighs the question's terms by
AUXILIARY = (DOCUMENTS_SUFFIX, TERMS_SUFFIX)  # collections that belong to a generation's passages collection
CONNECT_SECONDS = 3.0  # a reachable Milvus answers in milliseconds; an unreachable one costs a request this
QUESTION_SECONDS = 10.0  # a call while answering: retried until then, then the question gets a 503
BUILD_SECONDS = 600.0  # a call while building (inserting, flushing, loading)
INSERT_BATCH = 500  # passages a request: a few MB, well under Milvus's 64 MB
LINES_PART_BYTES = 60_000  # JSON of a document's lines per row, under VARCHAR's 65,535 bytes
TEXT_BYTES = 65_535
TERM_BYTES = 512
ROW_CACHE = 4096  # passages (fields and sentence vectors) kept per generation; immutable, so never stale


class MilvusUnavailableError(IndexUnreachableError):
    """Milvus cannot be reached or cannot answer; the message says where and what to check."""


def redacted(uri: str) -> str:
    """The URI without any user or password in it, for messages and logs."""
    parts = urlsplit(uri)
    if parts.hostname and (parts.username or parts.password):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return uri


def collection_name(alias: str, generation: str) -> str:
    return f"{alias}_{generation.replace('-', '_')}"  # Milvus names: letters, digits, underscores


class MilvusConnection:
    """This process's client of one Milvus, made on first use and made again after a failure;
    every failure becomes a MilvusUnavailableError that names the Milvus and what to check.

    A Milvus Lite file is opened in this process (pymilvus serves it on a loopback port) and
    released when the last connection to it closes, so another process can open it next.
    """

    _lite_users: dict[str, int] = {}
    _lite_lock = threading.Lock()

    def __init__(self, settings: Settings):
        self.uri = settings.milvus_address
        self._token = settings.milvus_token
        self._client = None
        self._lock = threading.Lock()
        self._lite = settings.milvus_lite_file is not None
        self._closed = False
        self.is_lite = self._lite  # refined by the server's version once connected

    @property
    def where(self) -> str:
        return f"Milvus Lite file {self.uri}" if self._lite else f"Milvus at {redacted(self.uri)}"

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise MilvusUnavailableError("QA_INDEX_BACKEND=milvus needs pymilvus: install the milvus extra, "
                                         "pip install 'qa-service[milvus]'.") from None
        # pymilvus logs every failed call with its traceback, expected ones too (an alias not made
        # yet), and warns of Milvus Lite's missing features; the service says what failed, in one line.
        for name in ("pymilvus", "pymilvus.milvus_client"):  # the second has a level of its own
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if self._lite:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            # No keep-alive pings on an idle connection: Milvus Lite's server answers them by closing
            # it ("too_many_pings" in the log); a call on a connection that died fails and is retried.
            client = MilvusClient(uri=self.uri, token=self._token, timeout=CONNECT_SECONDS,
                                  grpc_options={"grpc.keepalive_permit_without_calls": 0})
            version = client.get_server_version(timeout=CONNECT_SECONDS)
        except Exception as exc:  # pymilvus raises its own exceptions and grpc's
            raise self._unavailable(exc) from None
        if self._lite:
            with self._lite_lock:
                self._lite_users[self.uri] = self._lite_users.get(self.uri, 0) + 1
        self.is_lite = str(version).startswith("milvus_lite")
        return client

    def _unavailable(self, exc: Exception) -> MilvusUnavailableError:
        reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:300] or type(exc).__name__
        if self._lite:
            hint = ("check that no other process holds it (a running `qa-service serve` does: change its index "
                    "through the admin API, or run `milvus-lite server --data-dir <file>` and set QA_MILVUS_URI "
                    "to its address for every process)")
        else:
            hint = "check that Milvus runs there and QA_MILVUS_URI and QA_MILVUS_TOKEN; questions are answered again once it is back"
        return MilvusUnavailableError(f"the index in {self.where} cannot be used ({reason}): {hint}.")

    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def call(self, method: str, *args, timeout: float = QUESTION_SECONDS, **kwargs) -> Any:
        """client.method(*args, **kwargs), bounded by `timeout` seconds with pymilvus' retries."""
        client = self.client()
        try:
            try:
                return getattr(client, method)(*args, timeout=timeout, **kwargs)
            except Exception as exc:
                # A Milvus Lite that was restarted has forgotten which collections were loaded
                # (a server remembers): load the collection and ask once more.
                if method not in ("search", "query") or "load" not in str(exc).lower():
                    raise
                client.load_collection(args[0], timeout=BUILD_SECONDS)
                return getattr(client, method)(*args, timeout=timeout, **kwargs)
        except Exception as exc:
            if _is_missing(exc):
                reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:300]
                raise MissingCollectionError(f"the index in {self.where} is not there or changed while this "
                                             f"request read it ({reason}): ask again.") from None
            log.warning("%s failed on %s: %s", method, self.where, exc)
            raise self._unavailable(exc) from None

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if self._closed:
                return
            self._closed = True
        if client is None:
            return
        client.close()
        if self._lite:
            with self._lite_lock:
                self._lite_users[self.uri] -= 1
                last = self._lite_users[self.uri] == 0
            if last:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)


class MissingCollectionError(IndexUnavailableError):
    """A collection or alias that is not (or no longer) there: a generation that a newer build
    removed while a request was still reading it answers 503, and the next request the new one."""


def _is_missing(exc: Exception) -> bool:
    text = str(exc).lower()
    return "not found" in text or "not exist" in text or "doesn't exist" in text


def _first_row(hit) -> int:
    entity = hit.get("entity") or {}
    return int(entity["row"] if "row" in entity else hit.get("row", hit.get("id")))


class MilvusVectorSearch:
    """The passage vectors in Milvus (index.vector_search.VectorSearch)."""

    def __init__(self, milvus: MilvusConnection, collection: str, index_type: IndexType):
        self.milvus, self.collection = milvus, collection
        parameters = {}
        if "efSearch" in index_type.parameters:
            parameters["ef"] = index_type.parameters["efSearch"]
        if "nprobe" in index_type.parameters:
            parameters["nprobe"] = index_type.parameters["nprobe"]
        self.search_params = {"metric_type": "IP", "params": parameters}

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        found = self.milvus.call("search", self.collection, data=[np.asarray(vector, np.float32).tolist()],
                                 anns_field="dense", limit=k, search_params=self.search_params,
                                 output_fields=["row"])
        # Inner products of unit vectors: the exact cosines (HNSW and IVF_FLAT keep whole vectors).
        return [(_first_row(hit), float(hit["distance"])) for hit in found[0]]

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        return self.passage_vectors(rows) @ vector

    def passage_vectors(self, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, 0), np.float32)
        found = self.milvus.call("query", self.collection, ids=[int(r) for r in rows], output_fields=["row", "dense"])
        by_row = {int(record["row"]): record["dense"] for record in found}
        return np.asarray([by_row[int(r)] for r in rows], np.float32)


def bm25_terms(analyzer: Analyzer, text: str) -> list[str]:
    """The terms of a text as Milvus gets them: the analyzer's stems, each one word of letters,
    digits and underscores ("2.5" becomes "2_5"), so that Milvus's tokenizer keeps it whole."""
    return [stem.replace(".", "_") for stem in analyzer.stems(text)]


def bm25_analyzer(milvus: MilvusConnection) -> dict:
    """How Milvus splits the `terms` field: at the spaces between them. Milvus Lite implements
    only its standard tokenizer (runs of word characters), which splits them the same way."""
    return {"tokenizer": "standard"} if milvus.is_lite else {"tokenizer": "whitespace"}


class MilvusRanking:
    """Milvus's BM25 ranking for one question (index.lexical_search.LexicalRanking)."""

    def __init__(self, search: "MilvusLexicalSearch", query: str, top: list[tuple[int, float]]):
        self._search, self._query, self.top = search, query, top

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        known = dict(self.top)
        missing = sorted({int(r) for r in rows} - set(known))
        if missing:  # the rows only the dense search found: BM25 scores them among themselves
            known.update(self._search.scored(self._query, len(missing), f"row in {missing}"))
        return np.array([known.get(int(r), 0.0) for r in rows], np.float32)


class MilvusLexicalSearch:
    """BM25 ranked by Milvus over the analyzed terms (index.lexical_search.LexicalSearch)."""

    def __init__(self, milvus: MilvusConnection, collection: str, analyzer: Analyzer):
        self.milvus, self.collection, self.analyzer = milvus, collection, analyzer

    def scored(self, query: str, k: int, where: str = "") -> list[tuple[int, float]]:
        found = self.milvus.call("search", self.collection, data=[query], anns_field="bm25", limit=k,
                                 filter=where, output_fields=["row"], search_params={"metric_type": "BM25"})
        # Milvus scores a term tf·(k1 + 1)/(tf + k1·(…)) where bm25s (the FAISS backend) leaves out the
        # constant k1 + 1: divided out, both backends report the same scores. (Milvus Lite reports
        # a BM25 score as a negative distance, a server as a positive score: both are its size.)
        return [(_first_row(hit), abs(float(hit["distance"])) / (BM25_K1 + 1)) for hit in found[0]]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        terms = [t for t in dict.fromkeys(terms) if len(t.encode("utf-8")) <= TERM_BYTES]
        if not terms:
            return {}
        found = self.milvus.call("query", self.collection + TERMS_SUFFIX, ids=terms, output_fields=["term", "frequency"])
        known = {record["term"]: int(record["frequency"]) for record in found}
        return {term: known.get(term, 0) for term in terms}

    def ranking(self, question: str, k: int) -> MilvusRanking | None:
        terms = list(dict.fromkeys(bm25_terms(self.analyzer, question)))  # each once, as bm25s scores them
        if not terms:
            return None
        query = " ".join(terms)
        top = self.scored(query, k)
        return MilvusRanking(self, query, top) if top else None


_PASSAGE_FIELDS = ["row", "id", "document", "title", "section", "page", "page_end", "pdf_page", "line_start", "line_end", "text",
                   "spans", "sentences"]


class MilvusGeneration:
    """One generation in Milvus (generation.Generation): its collections, read through the
    connection; the passages it has fetched are kept, as a generation never changes."""

    def __init__(self, milvus: MilvusConnection, collection: str, manifest: dict, language: str):
        self.milvus = milvus
        self.collection = collection
        self.manifest = manifest
        self.name = manifest["generation"]
        self.dimension = int(manifest["dimension"])
        index_type = IndexType(manifest["index_type"], manifest.get("index_parameters", {}))
        self.dense = MilvusVectorSearch(milvus, collection, index_type)
        self.lexical = MilvusLexicalSearch(milvus, collection, Analyzer(manifest.get("language", language)))
        self.store = MilvusPassageStore(self)
        self._rows: OrderedDict[int, tuple[Passage, np.ndarray]] = OrderedDict()
        self._rows_lock = threading.Lock()

    @property
    def passage_count(self) -> int:
        return int(self.manifest["passages"])

    def rows(self, rows: Sequence[int]) -> dict[int, tuple[Passage, np.ndarray]]:
        """Passages and their int8 sentence vectors by row, fetched in one request where not kept."""
        wanted = list(dict.fromkeys(int(r) for r in rows))
        with self._rows_lock:
            found = {r: self._rows[r] for r in wanted if r in self._rows}
        missing = [r for r in wanted if r not in found]
        if missing:
            fetched = {int(record["row"]): _passage_of(record, self.dimension)
                       for record in self.milvus.call("query", self.collection, ids=missing,
                                                      output_fields=_PASSAGE_FIELDS)}
            found.update(fetched)
            with self._rows_lock:
                self._rows.update(fetched)
                while len(self._rows) > ROW_CACHE:
                    self._rows.popitem(last=False)
        return found

    def sentences_of(self, row: int) -> np.ndarray:
        return self.rows([row])[row][1]

    def best_sentence_similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        found = self.rows(rows)
        best = np.full(len(rows), -1.0, np.float32)
        for i, row in enumerate(rows):
            sentences = found[int(row)][1]
            if len(sentences):
                best[i] = float((dequantized(sentences) @ vector).max())
        return best

    def reused_vectors(self, keys: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        wanted = {key: i for i, key in enumerate(keys)}
        rows = {}
        for batch in self._scan(["row", "embed_key"]):
            for record in batch:
                if record["embed_key"] in wanted:
                    rows[int(record["row"])] = wanted.pop(record["embed_key"])
        ordered = sorted(rows)
        for first in range(0, len(ordered), INSERT_BATCH):
            chunk = ordered[first : first + INSERT_BATCH]
            for record in self.milvus.call("query", self.collection, ids=chunk,
                                           output_fields=["row", "dense", "sentences"], timeout=BUILD_SECONDS):
                yield (rows[int(record["row"])], np.asarray(record["dense"], np.float32),
                       _sentence_vectors(record["sentences"], self.dimension))

    def _scan(self, fields: list[str], collection: str | None = None, where: str = "") -> Iterator[list[dict]]:
        """Every row of a collection, a batch at a time."""
        iterator = self.milvus.call("query_iterator", collection or self.collection, batch_size=1000,
                                    filter=where, output_fields=fields, timeout=BUILD_SECONDS)
        try:
            while batch := iterator.next():
                yield batch
        except Exception as exc:
            raise self.milvus._unavailable(exc) from None
        finally:
            iterator.close()

    def close(self) -> None:
        pass  # the connection belongs to the backend


def _passage_of(record: dict, dimension: int) -> tuple[Passage, np.ndarray]:
    citation = Citation(record["document"], record["title"], tuple(json.loads(record["section"])),
                        json.loads(record["page"]), int(record["line_start"]), int(record["line_end"]),
                        json.loads(record["pdf_page"]), json.loads(record["page_end"]))
    spans = tuple(tuple(span) for span in json.loads(record["spans"]))
    return Passage(record["id"], record["text"], citation, spans), _sentence_vectors(record["sentences"], dimension)


def _sentence_vectors(encoded: Sequence[str], dimension: int) -> np.ndarray:
    if not encoded:
        return np.zeros((0, dimension), np.int8)
    return np.frombuffer(b"".join(base64.b64decode(s) for s in encoded), np.int8).reshape(len(encoded), dimension)


class MilvusPassageStore:
    """A generation's passages and documents in Milvus (generation.PassageSource)."""

    def __init__(self, generation: MilvusGeneration):
        self.generation = generation
        self.documents_collection = generation.collection + DOCUMENTS_SUFFIX
        self._summaries: list[dict] | None = None

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        return {row: passage for row, (passage, _) in self.generation.rows(rows).items()}

    def rows_of(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        found = self.generation.milvus.call("query", self.generation.collection, filter=f"id in {json.dumps(list(ids))}",
                                            output_fields=["row", "id"])
        return {record["id"]: int(record["row"]) for record in found}

    def _documents(self) -> list[dict]:
        """Each document's first part: its summary and headings (a few hundred bytes each)."""
        if self._summaries is None:
            fields = ["document", "title", "sha256", "passages", "pages", "page_numbering", "line_count", "first_row",
                      "headings"]
            self._summaries = [record for batch in self.generation._scan(fields, self.documents_collection, "part == 0")
                               for record in batch]
        return self._summaries

    def documents(self) -> list[DocumentSummary]:
        return sorted((_summary_of(d) for d in self._documents()), key=lambda summary: summary.name)

    def document(self, name: str) -> DocumentSummary | None:
        return next((_summary_of(d) for d in self._documents() if d["document"] == name), None)

    def document_digests(self) -> dict[str, str]:
        return {d["document"]: d["sha256"] for d in self._documents()}

    def section_headings(self, limit: int) -> list[tuple[str, str]]:
        """As the SQLite store chooses them: taking turns across documents, in reading order."""
        by_document = [[(heading, d["document"]) for heading in json.loads(d["headings"])]
                       for d in sorted(self._documents(), key=lambda d: d["first_row"])]
        return take_turns(by_document, limit)

    def document_lines(self, name: str, first: int = 1, last: int | None = None) -> list[Line]:
        """The document's lines `first` to `last`, from the parts that hold them."""
        last = last if last is not None else 2**62
        where = f"document == {json.dumps(name)} and last_line >= {int(first)} and first_line <= {int(last)}"
        parts = self.generation.milvus.call("query", self.documents_collection, filter=where,
                                            output_fields=["part", "lines"])
        return [line for part in sorted(parts, key=lambda p: p["part"])
                for line in (Line(*fields) for fields in json.loads(part["lines"])) if first <= line.number <= last]


class MilvusBackend:
    """Generations as collections in Milvus, CURRENT as an alias (generation.GenerationBackend)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.alias = settings.milvus_collection
        self.milvus = MilvusConnection(settings)

    # --- reading -----------------------------------------------------------------------------

    def pointer(self) -> str | None:
        return self._alias_target()

    def _alias_target(self) -> str | None:
        try:
            return self.milvus.call("describe_alias", self.alias)["collection_name"]
        except MissingCollectionError:
            return None

    def current_name(self) -> str | None:
        collection = self._alias_target()
        return None if collection is None else self._manifest(collection).get("generation")

    def _manifest(self, collection: str) -> dict:
        properties = self.milvus.call("describe_collection", collection).get("properties", {})
        return json.loads(properties[MANIFEST]) if MANIFEST in properties else {}

    def open(self, language: str, embedder: Embedder | None = None) -> MilvusGeneration:
        collection = self._alias_target()
        if collection is None:
            raise NoIndexError(f"no index has been built in {self.milvus.where} under the alias {self.alias!r}: run "
                               "`qa-service build` with the same QA_INDEX_BACKEND and QA_MILVUS_URI.")
        try:
            manifest = self._manifest(collection)
        except MissingCollectionError:
            raise NoIndexError(f"the alias {self.alias!r} in {self.milvus.where} names {collection}, which is gone: "
                               "run `qa-service build --full`.") from None
        if not manifest:
            raise NoIndexError(f"the collection {collection} in {self.milvus.where} has no manifest: run "
                               "`qa-service build --full`.")
        check_manifest(manifest, self.milvus.where, embedder)
        # A server keeps a collection loaded; Milvus Lite forgets it when its process ends.
        for name in (collection, *(collection + suffix for suffix in AUXILIARY)):
            self.milvus.call("load_collection", name, timeout=BUILD_SECONDS)
        return MilvusGeneration(self.milvus, collection, manifest, language)

    # --- writing -----------------------------------------------------------------------------

    def write(self, generation: NewGeneration) -> None:
        collection = collection_name(self.alias, generation.name)
        dimension = generation.vectors.shape[1]
        self._write_documents(collection + DOCUMENTS_SUFFIX, generation, dimension)
        analyzer = Analyzer(generation.manifest["language"])
        self._write_terms(collection + TERMS_SUFFIX, generation, analyzer)
        self._create_passages(collection, generation.manifest, dimension)
        offsets = generation.offsets
        for first in range(0, len(generation.passages), INSERT_BATCH):
            batch = []
            for row in range(first, min(first + INSERT_BATCH, len(generation.passages))):
                passage, citation = generation.passages[row], generation.passages[row].citation
                sentences = generation.sentence_vectors[offsets[row] : offsets[row + 1]]
                batch.append({
                    "row": row, "id": passage.id, "document": citation.document, "title": _fit(citation.title),
                    "section": _fit(json.dumps(citation.section, ensure_ascii=False)),
                    "page": json.dumps(citation.page), "page_end": json.dumps(citation.page_end),
                    "pdf_page": json.dumps(citation.pdf_page),
                    "line_start": citation.line_start,
                    "line_end": citation.line_end, "text": _fit(passage.text), "spans": json.dumps(passage.sentences),
                    "embed_key": generation.keys[row],
                    "terms": _fit(" ".join(bm25_terms(analyzer, passage.contextual_text()))),
                    "dense": generation.vectors[row].tolist(),
                    "sentences": [base64.b64encode(vector.tobytes()).decode("ascii") for vector in sentences],
                })
            self.milvus.call("insert", collection, batch, timeout=BUILD_SECONDS)
        for name in (*(collection + suffix for suffix in AUXILIARY), collection):
            self.milvus.call("flush", name, timeout=BUILD_SECONDS)
            self.milvus.call("load_collection", name, timeout=BUILD_SECONDS)
        # Last: the manifest marks the generation complete.
        self.milvus.call("alter_collection_properties", collection,
                         properties={MANIFEST: json.dumps(generation.manifest)}, timeout=BUILD_SECONDS)

    def _create_passages(self, collection: str, manifest: dict, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        for name, length in (("id", 256), ("document", 4096), ("title", TEXT_BYTES), ("section", TEXT_BYTES),
                             ("page", 256), ("page_end", 256), ("pdf_page", 32), ("text", TEXT_BYTES), ("spans", TEXT_BYTES),
                             ("embed_key", 256)):
            schema.add_field(name, DataType.VARCHAR, max_length=length)
        schema.add_field("line_start", DataType.INT64)
        schema.add_field("line_end", DataType.INT64)
        schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                         analyzer_params=bm25_analyzer(self.milvus))
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        # A passage has at most MAX_WORDS sentences; 4096 is Milvus's largest array.
        schema.add_field("sentences", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4096,
                         max_length=4 * math.ceil(dimension / 3))
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                     output_field_names=["bm25"]))
        indexes = MilvusClient.prepare_index_params()
        indexes.add_index(field_name="dense", metric_type="IP", **_vector_index(manifest))
        indexes.add_index(field_name="bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                          params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        # Strong: a new generation answers with every row as soon as the alias names it.
        self.milvus.call("create_collection", collection, schema=schema, index_params=indexes,
                         consistency_level="Strong", timeout=BUILD_SECONDS)

    def _write_documents(self, collection: str, generation: NewGeneration, dimension: int) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("document", DataType.VARCHAR, max_length=4096)
        schema.add_field("part", DataType.INT64)
        for name, length in (("title", TEXT_BYTES), ("sha256", 64), ("headings", TEXT_BYTES), ("lines", TEXT_BYTES),
                             ("page_numbering", 16)):
            schema.add_field(name, DataType.VARCHAR, max_length=length)
        for name in ("passages", "pages", "first_row", "line_count", "first_line", "last_line"):
            schema.add_field(name, DataType.INT64)
        # Milvus wants a vector in every collection: the mean of the document's passage vectors.
        schema.add_field("centroid", DataType.FLOAT_VECTOR, dim=dimension)
        indexes = MilvusClient.prepare_index_params()
        indexes.add_index(field_name="centroid", index_type="FLAT", metric_type="IP")
        indexes.add_index(field_name="document", index_type="INVERTED")
        self.milvus.call("create_collection", collection, schema=schema, index_params=indexes,
                         consistency_level="Strong", timeout=BUILD_SECONDS)
        rows_of: dict[str, list[int]] = {}
        headings: dict[str, list[str]] = {}
        seen_sections: set[tuple[str, tuple[str, ...]]] = set()
        for row, passage in enumerate(generation.passages):
            citation = passage.citation
            rows_of.setdefault(citation.document, []).append(row)
            # The nearest heading of each section, in reading order (PassageStore.section_headings).
            if (citation.document, citation.section) not in seen_sections:
                seen_sections.add((citation.document, citation.section))
                listed = headings.setdefault(citation.document, [])
                if citation.section and citation.section[-1] not in listed:
                    listed.append(citation.section[-1])
        records, key = [], 0
        for document in generation.documents:
            summary = generation.summaries[document.name]
            rows = rows_of.get(document.name, [])
            centroid = generation.vectors[rows].mean(axis=0) if rows else np.zeros(dimension, np.float32)
            centroid = centroid / (np.linalg.norm(centroid) or 1.0)
            for part, (lines, first_line, last_line) in enumerate(_line_parts(document.shown_lines())):
                records.append({
                    "key": key, "document": document.name, "part": part, "title": _fit(summary.title),
                    "sha256": summary.sha256, "headings": _fit(json.dumps(headings.get(document.name, []), ensure_ascii=False)),
                    "lines": lines, "passages": summary.passages, "pages": -1 if summary.pages is None else summary.pages,
                    "page_numbering": summary.page_numbering or "", "line_count": summary.lines,
                    "first_line": first_line, "last_line": last_line,
                    "first_row": rows[0] if rows else -1, "centroid": centroid.astype(np.float32).tolist(),
                })
                key += 1
                if len(records) >= INSERT_BATCH // 10:
                    self.milvus.call("insert", collection, records, timeout=BUILD_SECONDS)
                    records = []
        if records:
            self.milvus.call("insert", collection, records, timeout=BUILD_SECONDS)

    def _write_terms(self, collection: str, generation: NewGeneration, analyzer: Analyzer) -> None:
        """Each term's document frequency: in how many passages it stands (as bm25s counts it)."""
        from pymilvus import DataType, MilvusClient

        frequencies: Counter[str] = Counter()
        for passage in generation.passages:
            frequencies.update(set(analyzer.stems(passage.contextual_text())))
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("term", DataType.VARCHAR, max_length=TERM_BYTES, is_primary=True)
        schema.add_field("frequency", DataType.INT64)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        indexes = MilvusClient.prepare_index_params()
        indexes.add_index(field_name="unused", index_type="FLAT", metric_type="IP")
        self.milvus.call("create_collection", collection, schema=schema, index_params=indexes,
                         consistency_level="Strong", timeout=BUILD_SECONDS)
        records = [{"term": term, "frequency": count, "unused": [0.0, 0.0]}
                   for term, count in frequencies.items() if len(term.encode("utf-8")) <= TERM_BYTES]
        for first in range(0, len(records), INSERT_BATCH * 10):
            self.milvus.call("insert", collection, records[first : first + INSERT_BATCH * 10], timeout=BUILD_SECONDS)

    def publish(self, name: str) -> None:
        collection = collection_name(self.alias, name)
        if self._alias_target() is None:
            self.milvus.call("create_alias", collection, self.alias, timeout=BUILD_SECONDS)
        else:
            self.milvus.call("alter_alias", collection, self.alias, timeout=BUILD_SECONDS)

    def discard(self, name: str) -> None:
        collection = collection_name(self.alias, name)
        if collection != self._alias_target():
            self._drop(collection)

    def _drop(self, collection: str) -> None:
        for name in (collection, *(collection + suffix for suffix in AUXILIARY)):
            try:
                self.milvus.call("drop_collection", name, timeout=BUILD_SECONDS)
            except MissingCollectionError:
                pass

    def prune(self, keep: int) -> None:
        current = self._alias_target()
        ours = sorted(name for name in self.milvus.call("list_collections")
                      if name.startswith(self.alias + "_") and not name.endswith(AUXILIARY))
        complete = []
        for collection in ours:
            if collection == current:
                complete.append(collection)
            elif self._manifest(collection):
                complete.append(collection)
            else:
                log.info("dropping %s in %s: a build that did not finish left it", collection, self.milvus.where)
                self._drop(collection)
        for collection in complete[: max(0, len(complete) - keep)]:
            if collection != current:
                self._drop(collection)
        # Documents and terms collections whose passages collection is gone (a build killed in between).
        left = set(self.milvus.call("list_collections"))
        for name in left:
            for suffix in AUXILIARY:
                if name.startswith(self.alias + "_") and name.endswith(suffix) and name[: -len(suffix)] not in left:
                    self.milvus.call("drop_collection", name, timeout=BUILD_SECONDS)

    def close(self) -> None:
        self.milvus.close()


def _vector_index(manifest: dict) -> dict:
    """The Milvus index for the index type the build chose by size (vector_search.index_type_for)."""
    kind, parameters = manifest["index_type"], manifest.get("index_parameters", {})
    if kind == "flat":
        return {"index_type": "FLAT", "params": {}}
    if kind == "hnsw":
        return {"index_type": "HNSW", "params": {"M": parameters["M"], "efConstruction": parameters["efConstruction"]}}
    if kind == "ivf":
        return {"index_type": "IVF_FLAT", "params": {"nlist": parameters["nlist"]}}
    raise ValueError(f"unknown index type {kind!r}")


def _fit(text: str) -> str:
    """At most VARCHAR's 65,535 bytes of UTF-8 (a passage is far shorter; a title or heading may not be)."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= TEXT_BYTES else encoded[:TEXT_BYTES].decode("utf-8", errors="ignore")


def _line_parts(lines: Sequence[Line]) -> list[tuple[str, int, int]]:
    """A document's lines as JSON arrays of [number, page, text, pdf_page, furniture, heading], each under
    LINES_PART_BYTES, with the first and last line number each holds."""
    parts, current, size, numbers = [], [], 2, []

    def close():
        parts.append(("[" + ",".join(current) + "]", numbers[0] if numbers else 0, numbers[-1] if numbers else 0))

    for line in lines:
        item = json.dumps([line.number, line.page, line.text, line.pdf_page, line.furniture, line.heading],
                          ensure_ascii=False)
        length = len(item.encode("utf-8")) + 1
        if current and size + length > LINES_PART_BYTES:
            close()
            current, size, numbers = [], 2, []
        if length > LINES_PART_BYTES:  # one enormous line: cut, the viewer shows its start
            item = json.dumps([line.number, line.page, _fit(line.text)[: LINES_PART_BYTES // 4], line.pdf_page,
                               line.furniture, line.heading], ensure_ascii=False)
            length = len(item.encode("utf-8")) + 1
        current.append(item)
        numbers.append(line.number)
        size += length
    close()
    return parts


def _summary_of(record: dict) -> DocumentSummary:
    return DocumentSummary(record["document"], record["title"], record["sha256"], int(record["passages"]),
                           None if record["pages"] < 0 else int(record["pages"]), record["page_numbering"] or None,
                           int(record["line_count"]))
