"""The documents earlier builds read and split, kept by what they were made from, so that a build
reads only the files that changed: adding a small note beside a 300-page PDF does not read the
PDF again.

An entry is keyed by the document's name (citations carry it), the SHA-256 of its file, and the
version of the reading code: the source of the readers and the splitter and the versions of the
parsing libraries, so that a change to either reads everything again. No setting changes what
reading gives today; one that does belongs in the key. Entries live in `<index_dir>/.parsed/`;
after a build, only those of its documents stay.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import secrets
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterable

from ..documents import Document
from ..passages import Passage

log = logging.getLogger(__name__)

FOLDER = ".parsed"
# The libraries whose output the readers turn into documents.
PARSERS = ("pdfplumber", "pdfminer.six", "pypdfium2", "python-docx", "beautifulsoup4", "lxml")


@lru_cache(maxsize=1)
def reader_version() -> str:
    """A digest of the reading code and the parsing libraries' versions."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for source in sorted([*(package / "documents").glob("*.py"), package / "passages.py"]):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for library in PARSERS:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library}={version}\0".encode())
    return digest.hexdigest()


class ParsedCache:
    """Read and split documents of earlier builds, in a folder of the index directory."""

    def __init__(self, index_dir: Path, reuse: bool = True):
        self.folder = index_dir / FOLDER
        self.reuse = reuse  # False: get() finds nothing, put() still keeps what is read

    @staticmethod
    def key(name: str, digest: str) -> str:
        return hashlib.sha256(f"{reader_version()}\0{name}\0{digest}".encode("utf-8")).hexdigest()

    def get(self, name: str, digest: str) -> tuple[Document, list[Passage]] | None:
        if not self.reuse:
            return None
        path = self.folder / f"{self.key(name, digest)}.pickle"
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged entry is read again from the file
            log.warning("reading %s again: its parsed copy %s is damaged (%s)", name, path.name, exc)
            return None

    def put(self, name: str, digest: str, outcome: tuple[Document, list[Passage]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.key(name, digest)}.pickle"
        if path.exists() and self.reuse:
            return
        partial = self.folder / f".{secrets.token_hex(6)}.tmp"
        with open(partial, "wb") as handle:
            pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)  # a build killed while writing leaves a .tmp, never half an entry

    def keep_only(self, documents: Iterable[tuple[str, str]]) -> None:
        """Remove every entry but those of these (name, digest) pairs, and leftover partial ones."""
        if not self.folder.is_dir():
            return
        wanted = {f"{self.key(name, digest)}.pickle" for name, digest in documents}
        for entry in self.folder.iterdir():
            if entry.name not in wanted:
                entry.unlink(missing_ok=True)
