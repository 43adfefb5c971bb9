"""Builds on Ray (QA_RAY_ADDRESS): the same generation as a local build, updates that send only
new passages to the cluster, an actor killed mid-build, a cluster that goes away, two nodes.

Ray runs on this machine: one instance for the module (`ray.init(num_cpus=2)`), and clusters of
`ray.cluster_utils.Cluster` for the tests that need their own; all are stopped at the end.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.config import Settings
from qa_service.corpus import NewDocument, change_corpus
from qa_service.evaluation import evaluate, read_questions
from qa_service.index import IndexGeneration, LiveIndex, RayClusterError, build_index
from qa_service.index.ray_build import console_without_tracebacks
from qa_service.search import Searcher

from conftest import CHAPTER, CHAPTER_NAME, DEV_QUESTIONS, ROOT, snapshot

ray = pytest.importorskip("ray", reason="the cluster extra: pip install '.[cluster]' (the test extra installs it)")
pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT / "benchmarks"))
from corpora import Writer, write_corpus  # noqa: E402


@pytest.fixture(scope="module")
def ray_address():
    """A Ray instance on this machine for the module's builds, stopped after them."""
    context = ray.init(num_cpus=2, include_dashboard=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The chapter and a report written from its words: 25 passages."""
    folder = tmp_path_factory.mktemp("ray-corpus") / "corpus"
    write_corpus(folder, Writer(11), 1)
    (folder / CHAPTER_NAME).write_bytes(CHAPTER.read_bytes())
    return folder


@pytest.fixture(scope="module")
def local_build(tmp_path_factory, corpus, embedder) -> Settings:
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("local") / "index")
    build_index(settings, embedder)
    return settings


def generation_of(settings: Settings) -> dict:
    generation = IndexGeneration.open(settings.index_dir)
    try:
        passages = generation.store.passages(range(generation.passage_count))
        return {"manifest": generation.manifest, "passages": [passages[row] for row in range(len(passages))],
                "vectors": np.array(generation.vectors), "sentences": np.array(generation.sentence_vectors),
                "offsets": np.array(generation.sentence_offsets)}
    finally:
        generation.close()


def answers(settings: Settings, embedder) -> list:
    """Each dev question's top passages in each mode, and the eval figures."""
    searcher = Searcher(embedder, LiveIndex(settings, embedder))
    questions = read_questions(DEV_QUESTIONS)
    tops = [[hit.passage.id for hit in searcher.ask(q.question, top_k=5, mode=mode).hits]
            for q in questions for mode in ("dense", "lexical", "hybrid")]
    figures = [(r.mode, r.hit_at_1, r.recall_at_3, r.mrr) for r in evaluate(searcher, questions)]
    return [tops, figures]


def assert_same_generation(ours: dict, local: dict) -> None:
    assert [p.id for p in ours["passages"]] == [p.id for p in local["passages"]]
    assert [(p.text, p.citation, p.sentences) for p in ours["passages"]] == \
        [(p.text, p.citation, p.sentences) for p in local["passages"]]
    changing = {"generation", "created_at", "build"}
    assert {k: v for k, v in ours["manifest"].items() if k not in changing} == \
        {k: v for k, v in local["manifest"].items() if k not in changing}
    np.testing.assert_allclose(ours["vectors"], local["vectors"], atol=1e-5)
    assert np.array_equal(ours["offsets"], local["offsets"])
    assert np.abs(ours["sentences"].astype(int) - local["sentences"].astype(int)).max() <= 1  # int8 rounding


def test_a_build_on_a_two_node_cluster_is_the_local_build(tmp_path, corpus, local_build, embedder):
    """`qa-service build --ray ADDRESS` on two nodes of one core: actors on both, and the
    generation a local build makes, down to the answers to the dev questions."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    address = cluster.address
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        index = tmp_path / "index"
        result = CliRunner().invoke(main, ["build", "--corpus", str(corpus), "--index", str(index),
                                           "--ray", address, "--ray-actors", "2"])
    finally:
        cluster.shutdown()
    assert result.exit_code == 0, result.output
    assert "2 documents, 25 passages" in result.output and "embedded 25" in result.output
    assert f"Ray cluster at {address}: 2 nodes" in result.output
    ours, local = generation_of(local_build.with_changes(index_dir=index)), generation_of(local_build)
    assert local["manifest"]["build"] == {"engine": "local"}
    assert ours["manifest"]["build"] == {"engine": "ray", "address": address, "nodes": 2, "actors": 2,
                                         "actor_cpus": 1, "actor_gpus": 0, "actor_nodes": 2, "embedded": 25}
    assert_same_generation(ours, local)
    assert answers(local_build.with_changes(index_dir=index), embedder) == answers(local_build, embedder)


def test_an_update_sends_only_new_passages_to_the_cluster(tmp_path, ray_address, corpus, embedder):
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", ray_address=ray_address)
    settings.corpus_dir.mkdir()
    (settings.corpus_dir / CHAPTER_NAME).write_bytes(CHAPTER.read_bytes())
    first = build_index(settings, embedder)
    assert first.embedded == 5 and generation_of(settings)["manifest"]["build"]["embedded"] == 5

    note = tmp_path / "notitie.md"
    note.write_text("# Notitie\n\nDe minister stuurt de Kamer dit voorjaar een brief over de uitzendingen.\n")
    change = change_corpus(settings, embedder, add=[NewDocument("notitie.md", note)])
    assert (change.report.reused, change.report.embedded) == (5, 1)
    manifest = generation_of(settings)["manifest"]
    assert manifest["build"]["embedded"] == 1 and manifest["passages"] == 6  # the cluster saw one passage

    removed = change_corpus(settings, embedder, remove=["notitie.md"])
    assert (removed.report.reused, removed.report.embedded) == (5, 0)
    assert generation_of(settings)["manifest"]["build"]["actors"] == 0  # nothing to embed: no actor started


def ray_actor_processes(kind: str = "PassageEmbedder") -> list[int]:
    """This test session's Ray worker processes that run an embedding actor."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if command.startswith("ray::") and kind in command:
                found.append(int(entry.name))
    return found


def test_an_actor_killed_mid_build_is_restarted_by_ray(tmp_path, ray_address, corpus, local_build, embedder):
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", ray_address=ray_address, ray_actors=2)
    outcome = {}
    build = threading.Thread(target=lambda: outcome.update(report=build_index(settings, embedder)))
    build.start()
    deadline = time.monotonic() + 300
    while len(actors := ray_actor_processes()) < 2 and build.is_alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(actors) == 2, "the build never started its two embedding actors"
    time.sleep(3)  # into its first batch
    assert build.is_alive()
    os.kill(actors[0], signal.SIGKILL)
    build.join(timeout=600)
    assert not build.is_alive() and "report" in outcome, "the build did not survive the actor's death"
    assert outcome["report"].embedded == 25
    assert_same_generation(generation_of(settings), generation_of(local_build))


def test_a_cluster_that_goes_away_fails_the_build_and_changes_nothing(tmp_path, settings, embedder):
    """`qa-service add` on a cluster killed mid-embedding: a clear message, the generation
    before it still current, the corpus as it was, and no staging folder left."""
    from ray.cluster_utils import Cluster

    build_index(settings, embedder)
    before = snapshot(settings.corpus_dir, settings.index_dir)
    write_corpus(tmp_path / "new", Writer(12), 1)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    address = cluster.address
    log = open(tmp_path / "add.log", "w+")
    try:
        environment = {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
                       # Ray ends a driver that has lost its cluster's GCS after this long (default 60 s)
                       "RAY_gcs_rpc_server_reconnect_timeout_s": "10"}
        add = subprocess.Popen([str(Path(sys.executable).parent / "qa-service"), "add", "--ray", address,
                                str(tmp_path / "new" / "rapport-000001.txt")], env=environment, stdout=log,
                               stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not ray_actor_processes() and add.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ray_actor_processes(), "the build never started embedding"
        staged = [p for p in settings.index_dir.iterdir() if p.name.startswith(".staging-")]
        assert staged, "the added file is staged in the index folder while the build runs"
        time.sleep(2)
    finally:
        cluster.shutdown()
    try:
        add.wait(timeout=180)
    finally:
        if add.poll() is None:
            add.kill()
    log.seek(0)
    output = log.read()
    assert add.returncode == 1, output
    assert f"error: the Ray cluster at {address} went away during the build" in output
    assert "Nothing changed: the current generation keeps serving" in output
    assert "Traceback" not in output
    assert snapshot(settings.corpus_dir, settings.index_dir) == before
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith((".staging-", ".building-"))]


def test_ray_datas_errors_reach_the_console_without_their_tracebacks(capsys):
    """A lost cluster makes Ray Data log every failed task with its traceback; the driver shows
    each as one line, and the build's own sentence says what happened."""
    import ray.data  # noqa: F401  (configures Ray Data's logging)

    handlers = logging.getLogger("ray.data").handlers
    formatters = [handler.formatter for handler in handlers]
    try:
        console_without_tracebacks()
        console_without_tracebacks()  # once is enough: a second call wraps nothing again
        files = [(h, f) for h, f in zip(handlers, formatters) if not isinstance(h, logging.StreamHandler)]
        assert files and all(h.formatter is f for h, f in files)  # ray-data.log keeps the tracebacks
        try:
            raise RuntimeError("the actor died unexpectedly")
        except RuntimeError as exc:
            logging.getLogger("ray.data._internal.execution").error("A task failed.", exc_info=exc)
        logging.getLogger("ray.data._internal.execution").warning("Plain warning.")
    finally:
        for handler, formatter in zip(handlers, formatters):
            handler.setFormatter(formatter)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" -- ")[-1] for line in lines] == [
        "A task failed. (the traceback is in ray-data.log)", "Plain warning."]


def test_a_cluster_that_does_not_answer_is_refused_at_once(tmp_path, settings, embedder):
    from conftest import free_port

    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RayClusterError, match=f"nothing answers at {address}.*Nothing changed"):
        build_index(settings.with_changes(ray_address=address), embedder)
    assert time.monotonic() - started < 60
    assert not settings.index_dir.exists() or not any(p.name != ".build.lock" for p in settings.index_dir.iterdir())


def test_the_admin_rebuild_builds_on_ray(tmp_path, settings, ray_address, embedder):
    """POST /index/rebuild with QA_RAY_ADDRESS: the generation built on Ray; a cluster that
    cannot be reached: a JSON 503 that says so, and the index as it was."""
    from qa_service.api import create_app

    build_index(settings, embedder)
    ray_settings = settings.with_changes(ray_address=ray_address, admin_token="t" * 32)
    client = create_app(ray_settings, embedder).test_client()
    headers = {"Authorization": "Bearer " + "t" * 32}
    response = client.post("/index/rebuild", json={"full": True}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["embedded"] == 5
    assert generation_of(settings)["manifest"]["build"]["engine"] == "ray"

    from conftest import free_port

    before = snapshot(settings.corpus_dir, settings.index_dir)
    unreachable = settings.with_changes(ray_address=f"127.0.0.1:{free_port()}", admin_token="t" * 32)
    response = create_app(unreachable, embedder).test_client().post("/index/rebuild", json={"full": True},
                                                                    headers=headers)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "build_cluster_unavailable" and "nothing answers at" in error["message"]
    assert snapshot(settings.corpus_dir, settings.index_dir) == before


@pytest.mark.parametrize("address", ["ray:/host", "somewhere", "ray://host", "http://host:10001"])
def test_an_address_that_is_not_one_is_refused(address):
    with pytest.raises(ValueError, match="QA_RAY_ADDRESS"):
        Settings.from_env({"QA_RAY_ADDRESS": address})
    result = CliRunner().invoke(main, ["build", "--ray", address])
    assert result.exit_code == 2 and "is not a Ray address" in result.output


@pytest.mark.parametrize("address", ["local", "auto", "ray://head.ray.svc:10001", "10.0.0.5:6379", ""])
def test_ray_addresses(address):
    assert Settings.from_env({"QA_RAY_ADDRESS": address}).ray_address == address

