"""Schemathesis against the service's own /openapi.json, on a real server on loopback: requests
generated from the schemas, valid and invalid, on every route (the admin routes with a valid
token, on a throwaway copy of the corpus and index), and every answer checked against what the
document promises: no 5xx, a documented status, content type, headers and body."""

import itertools
import shutil
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qa_service.config import Settings
from qa_service.documents import supported_suffixes

from conftest import CHAPTER_NAME

TOKEN = "fuzz-admin-token-5be1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
# How the service refuses invalid data: a 4xx JSON error, 413 and 414 included (a body or URL too long).
REFUSALS = ["400", "401", "403", "404", "405", "409", "413", "414", "415", "422", "429"]
# Examples per operation and generation mode (valid, then invalid data). Operations without
# parameters have one request to make; the questions get the most. Uploads, removals and
# rebuilds that go through build an index, which takes seconds, so they get fewer.
EXAMPLES = 60
FEWER_EXAMPLES = {"POST /documents": 25, "PUT /documents/{name}": 25, "DELETE /documents/{name}": 25,
                  "POST /index/rebuild": 8}
MORE_EXAMPLES = {"POST /ask": 150, "GET /ask": 120}
AT_LEAST = 500
UPLOADS = {"POST /documents", "PUT /documents/{name}"}
# Paths that name a document: besides random names, the chapter and what the fuzzer uploaded,
# so that replacing and removing go through too, not only their refusals.
NAMED = {"GET /documents/{name}", "GET /documents/{name}/original", "PUT /documents/{name}",
         "DELETE /documents/{name}"}

pytestmark = pytest.mark.slow


@pytest.fixture
def throwaway_settings(chapter_settings, tmp_path) -> Settings:
    """A copy of the built chapter, for the admin routes to change as the fuzzer likes."""
    shutil.copytree(chapter_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(chapter_settings.index_dir, tmp_path / "index")
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")


def upload_name(number: int) -> str:
    """The name of the fuzzer's n-th uploaded file: the readable types take turns."""
    suffixes = supported_suffixes()
    return f"fuzz-{number}{suffixes[number % len(suffixes)]}"


def as_bytes(value) -> bytes:
    """A generated file's content: bytes, a schemathesis Binary (bytes in .data), or text."""
    return value if isinstance(value, bytes) else getattr(value, "data", None) or str(value).encode("utf-8")


def test_every_generated_request_gets_an_answer_the_openapi_document_describes(start_server, throwaway_settings):
    server = start_server(throwaway_settings, env={"QA_ADMIN_TOKEN": TOKEN})
    # Loaded as a document rather than from the URL, which schemathesis would leave out of the run.
    schema = schemathesis.openapi.from_dict(requests.get(server.url + "/openapi.json", timeout=30).json())
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    session = requests.Session()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # Valid uploads carry file names of every readable type; schemathesis would name each part
    # after its field ("file"), a type no upload may have.
    upload_names = map(upload_name, itertools.count())
    sent: Counter[str] = Counter()
    statuses: dict[str, Counter[int]] = {}
    no_invalid_input: list[str] = []
    started = time.monotonic()

    def call(case):
        named_files = case.operation.label in UPLOADS and case.meta.generation.mode is GenerationMode.POSITIVE
        if not named_files:
            return case.call(base_url=server.url, session=session, headers=auth, timeout=300)
        contents = case.body["file"] if isinstance(case.body["file"], list) else [case.body["file"]]
        files = [("file", (next(upload_names), as_bytes(content))) for content in contents]
        return case.call(base_url=server.url, session=session, headers=auth, files=files, timeout=300)

    for result in schema.get_all_operations():
        operation = result.ok()
        examples = FEWER_EXAMPLES.get(operation.label) or MORE_EXAMPLES.get(operation.label) or EXAMPLES
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases = operation.as_strategy(generation_mode=mode)
            if operation.label in NAMED and mode is GenerationMode.POSITIVE:
                known = [CHAPTER_NAME, *map(upload_name, range(2 * len(supported_suffixes())))]
                cases = st.one_of(cases, *(operation.as_strategy(path_parameters={"name": n}) for n in known))

            @given(case=cases)
            @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def answers_as_documented(case):
                response = call(case)
                # Run at once, in this iteration: the loop variable is the one meant.
                sent[operation.label] += 1  # noqa: B023
                statuses.setdefault(operation.label, Counter())[response.status_code] += 1  # noqa: B023
                case.validate_response(response, checks=CHECKS)

            try:
                answers_as_documented()
            except Unsatisfiable:
                # No invalid request can be written for it: no parameters, or only a path
                # parameter, whose one invalid value (empty) makes no URL.
                assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
                no_invalid_input.append(operation.label)

    seconds = time.monotonic() - started
    print(f"\nschemathesis: {sum(sent.values())} requests in {seconds:.0f} s")
    for label, count in sorted(sent.items()):
        answered = ", ".join(f"{status}: {n}" for status, n in sorted(statuses[label].items()))
        only_valid = " (valid requests only)" if label in no_invalid_input else ""
        print(f"  {count:5d}  {label}{only_valid}  [{answered}]")
    assert set(sent) == {op.ok().label for op in schema.get_all_operations()}, "every route was exercised"
    assert sum(sent.values()) >= AT_LEAST
    assert requests.get(server.url + "/health", timeout=30).status_code == 200, "the server still answers"
