"""Add, replace and remove documents: the corpus and the live index change together or not at all.

A change is checked before anything is touched. Added files are staged in a folder inside the
index directory and read there; a new generation is built from the corpus plus the staged files
minus the removed names; and only when that generation is complete, just before it goes live,
are files moved into (or out of) the corpus. Any failure before then leaves the corpus and the
live index as they were; a change that is killed leaves a staging folder that the next build
removes. The command line (`qa-service add`/`remove`) and the admin API both come through here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

from .config import Settings
from .documents import Document, DocumentError, corpus_files, supported_suffixes
from .embedder import Embedder
from .index import (
    INCOMING_PREFIX,
    STAGING_PREFIX,
    BuildReport,
    DocumentSummary,
    build_generation,
    build_lock,
    clean_up,
    fsync_directory,
)
from .passages import Passage
from .reader_process import ReaderProcess

MAX_NAME_BYTES = 255  # what common file systems allow for one name


class ChangeRefused(ValueError):
    """A change refused before anything changed; the message says what to do instead."""


class UnsafeNameError(ChangeRefused):
    pass


class UnsupportedTypeError(ChangeRefused):
    pass


class UnreadableDocumentError(ChangeRefused):
    pass


class NameTakenError(ChangeRefused):
    pass


class UnknownDocumentError(ChangeRefused):
    pass


# Characters that look like a folder separator without being one: a name holding one would
# read as a path ("..∕evil.txt") in every list that shows it.
SLASH_LOOKALIKES = "\u2215\u2044\u29f8\u29f9\u2571\u2572\u2216\u244a"  # ∕ ⁄ ⧸ ⧹ ╱ ╲ ∖ ⑊


def document_name(filename: str) -> str:
    """The name a file gets in the corpus: its base name, without any folders, when that is a
    safe name for a readable format. Compatibility characters are replaced by what they stand
    for (NFKC: "．．／" is "../"), so that no name only looks like another or like a path."""
    base = unicodedata.normalize("NFKC", filename or "").replace("\\", "/").split("/")[-1].strip()
    if any(character in SLASH_LOOKALIKES for character in base) or base.startswith(".."):
        raise UnsafeNameError(f"the file name {base!r} looks like a path; give the file a plain name such as "
                              "rapport.pdf.")
    if base in ("", ".", ".."):
        raise UnsafeNameError(
            f"the file name {filename!r} leaves no name once its folders are removed; "
            "give the file a plain name such as rapport.pdf."
        )
    if base.startswith("."):
        raise UnsafeNameError(f"{base!r} is a hidden file name; rename the file without the leading dot.")
    if any(unicodedata.category(character).startswith("C") for character in base):
        raise UnsafeNameError(f"the file name {base!r} holds control characters; rename the file.")
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafeNameError(f"the file name {base[:40]!r}… is too long; keep it under {MAX_NAME_BYTES} bytes.")
    suffix = Path(base).suffix.lower()
    if suffix not in supported_suffixes():
        raise UnsupportedTypeError(
            f"{base}: files of type '{suffix or '(none)'}' cannot be added; "
            f"supported: {', '.join(supported_suffixes())}."
        )
    return base


@dataclass(frozen=True)
class NewDocument:
    """A file to add under `name` (a checked corpus name): a path, or a stream of its bytes."""

    name: str
    source: Path | BinaryIO


@dataclass
class CorpusChange:
    report: BuildReport
    documents: list[DocumentSummary]  # the added or replaced documents, as indexed
    removed: list[str]


def change_corpus(
    settings: Settings,
    embedder: Embedder,
    *,
    add: Sequence[NewDocument] = (),
    remove: Sequence[str] = (),
    replace: bool = False,
    wait: bool = True,
    progress: bool = False,
) -> CorpusChange:
    """Add documents (replacing those of the same name only when `replace`) and remove others,
    and publish the index of the corpus that results. Raises ChangeRefused, with nothing
    changed, for a name that is taken or unknown or a file that cannot be read; and
    BuildInProgressError when another build runs and `wait` is false."""
    names = [document.name for document in add]
    twice = sorted({name for name in [*names, *remove] if [*names, *remove].count(name) > 1})
    if twice:
        raise ChangeRefused(f"{', '.join(twice)} appears more than once in this change; name each document once.")
    corpus_dir = settings.corpus_dir
    with build_lock(settings.index_dir, wait=wait):
        clean_up(settings)
        left_out: dict[str, str] = {}
        present = corpus_files(corpus_dir, left_out)
        present_names = {name for _, name in present}
        taken = [name for name in names if name in present_names]
        _refuse_names_differing_in_case(names, present_names - set(taken) - set(remove))
        if taken and not replace:
            raise NameTakenError(
                f"{', '.join(taken)} is already in the corpus; replace it (PUT /documents/<name>, "
                "or qa-service add --replace) or give the new file another name."
            )
        unknown = [name for name in remove if name not in present_names]
        if unknown:
            raise UnknownDocumentError(
                f"{', '.join(unknown)} is not in the corpus; give the name as citations show it "
                "(the file's path within the corpus)."
            )

        staging = settings.index_dir / f"{STAGING_PREFIX}{secrets.token_hex(6)}"
        try:
            staged, read = _stage(staging, add, ReaderProcess.for_settings(settings))
            leaving = set(names) | set(remove)
            sources = sorted([s for s in present if s[1] not in leaving] + staged, key=lambda source: source[1])
            report = build_generation(
                settings, embedder, sources, progress=progress, already_read=read,
                before_publish=lambda: _move_into_corpus(corpus_dir, staged, remove), left_out=left_out,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return CorpusChange(report, [report.indexed[name] for name in names], sorted(remove))


def _refuse_names_differing_in_case(names: Sequence[str], present: set[str]) -> None:
    """Two documents whose names differ only in case would be one file on some file systems and
    look like one in every list; refuse the second."""
    seen = {name.casefold(): name for name in present}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise NameTakenError(f"{name} differs only in case from {other}, already in the corpus or in this "
                                 "change; replace that document, or give the new file another name.")


def _stage(staging: Path, documents: Sequence[NewDocument],
           reader: ReaderProcess) -> tuple[list[tuple[Path, str]], dict[str, tuple[Document, list[Passage]]]]:
    """Write the new files into the staging folder and read and split each (in the reader's
    child process, within its limits), so that a file that cannot be read is refused before any
    build starts. Returns the staged (path, name) pairs and what was read from them."""
    staging.mkdir(parents=True)
    staged, read = [], {}
    with reader:
        for document in documents:
            read[document.name] = _staged(staging, document, reader)
            staged.append((staging / document.name, document.name))
    return staged, read


def _staged(staging: Path, document: NewDocument, reader: ReaderProcess) -> tuple[Document, list[Passage]]:
    path = staging / document.name
    path.parent.mkdir(parents=True, exist_ok=True)  # a replaced document may sit in a folder
    if isinstance(document.source, Path):
        shutil.copyfile(document.source, path)
    else:
        with open(path, "wb") as handle:
            shutil.copyfileobj(document.source, handle)
    try:
        return reader.read(path, document.name)
    except DocumentError as exc:
        raise UnreadableDocumentError(str(exc)) from None


def _move_into_corpus(corpus_dir: Path, staged: list[tuple[Path, str]], removed: Sequence[str]) -> None:
    """Put the staged files in the corpus and delete the removed ones.

    Each file is first copied into the corpus under a hidden name (the index may be on another
    file system), then renamed over its place, so a document is either the old file or the new
    one. The copies, the slow part, all come before the first rename.
    """
    corpus_dir.mkdir(parents=True, exist_ok=True)
    arriving = []
    for path, name in staged:
        incoming = corpus_dir / f"{INCOMING_PREFIX}{secrets.token_hex(6)}{path.suffix}"
        shutil.copyfile(path, incoming)
        with open(incoming, "rb") as handle:
            os.fsync(handle.fileno())
        arriving.append((incoming, corpus_dir / name))
    for incoming, target in arriving:
        os.replace(incoming, target)
    for name in removed:
        (corpus_dir / name).unlink()
    fsync_directory(corpus_dir)
