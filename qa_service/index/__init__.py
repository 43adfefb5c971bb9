"""The index: generations on disk (`generation`), how a build makes one (`build`), the passage
store (`store`), vector reuse across builds (`vector_cache`), and the vector search backends
behind one interface (`vector_search`; FAISS in `faiss`); builds on a Ray cluster (`ray_build`).

The names the rest of the service uses are gathered here.
"""

from .build import BuildReport, build_generation, build_index, file_digests, is_up_to_date, read_corpus
from .faiss import FaissVectorSearch
from .generation import (
    INCOMING_PREFIX,
    STAGING_PREFIX,
    BuildInProgressError,
    EmptyCorpusError,
    IndexGeneration,
    IndexMismatchError,
    IndexUnavailableError,
    LiveIndex,
    NoIndexError,
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
    "DocumentSummary", "EmptyCorpusError", "FaissVectorSearch", "IndexGeneration", "IndexMismatchError",
    "IndexType", "IndexUnavailableError", "LiveIndex", "NoIndexError", "RayClusterError", "VectorSearch", "build_generation",
    "build_index", "build_lock", "clean_up", "current_generation_name", "dequantized", "file_digests",
    "fsync_directory", "index_type_for", "is_up_to_date", "read_corpus",
]
