"""The index: generations and the live one (`generation`), how a build makes one (`build`), the
two backends that hold them side by side (`local`: folders with FAISS, bm25s and SQLite;
`milvus`: collections in Milvus behind an alias), the passage store (`store`), vector reuse
across builds (`vector_cache`), builds on a Ray cluster (`ray_build`), and the search
interfaces the searcher uses (`vector_search`, `lexical_search`; FAISS in `faiss`).

The names the rest of the service uses are gathered here.
"""

from . import parsed_cache
from .build import BuildReport, build_generation, build_index, file_digests, is_up_to_date, read_corpus
from .faiss import FaissVectorSearch
from .generation import (
    INCOMING_PREFIX,
    STAGING_PREFIX,
    BuildInProgressError,
    EmptyCorpusError,
    Generation,
    IndexGeneration,
    IndexMismatchError,
    IndexUnavailableError,
    LiveIndex,
    NoIndexError,
    backend_for,
    build_lock,
    clean_up,
    current_generation_name,
    fsync_directory,
)
from .ray_build import RayClusterError
from .store import DocumentSummary
from .vector_cache import dequantized
from .vector_search import EXACT_UP_TO, HNSW_UP_TO, IndexType, VectorSearch, index_type_for

__all__ = [
    "EXACT_UP_TO", "HNSW_UP_TO", "INCOMING_PREFIX", "STAGING_PREFIX", "BuildInProgressError", "BuildReport",
    "DocumentSummary", "EmptyCorpusError", "FaissVectorSearch", "Generation", "IndexGeneration", "IndexMismatchError",
    "IndexType", "IndexUnavailableError", "LiveIndex", "NoIndexError", "RayClusterError", "VectorSearch", "backend_for",
    "build_generation", "build_index", "build_lock", "clean_up", "current_generation_name", "dequantized",
    "file_digests", "fsync_directory", "index_type_for", "is_up_to_date", "parsed_cache", "read_corpus",
]
