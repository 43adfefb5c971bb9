"""The API's request and response shapes. They validate requests, serialize answers and are
the source of /openapi.json, so the documentation cannot drift from the behaviour."""

from __future__ import annotations

import re
from typing import Literal, Optional, Union
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .corpus import CorpusChange
from .index import BuildReport
from .search import MODES, Answer, Turn

MAX_QUESTION_CHARS = 1000
VIEWER_LINES = 1000  # lines the document viewer shows at a time
LINES_PATTERN = r"^[1-9][0-9]{0,8}(-[1-9][0-9]{0,8})?$"
DEFAULT_TOP_K = 5
MAX_TOP_K = 20
MAX_HISTORY_TURNS = 5
MAX_TURN_PASSAGES = 20
# Passage ids as the API gives them (16 hex digits today); anything else cannot name a passage.
PASSAGE_ID_PATTERN = r"^[0-9A-Za-z_-]{1,64}$"
# The most of a passage an answer carries (passages are cut at 2,400 when built; older indexes
# may hold longer ones): 20 passages make at most about 100 KB of text.
ANSWER_TEXT_CHARS = 4000
# Text with at least one visible character and no control characters (tab and newlines are fine).
_CONTROL = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F"
QUESTION_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"

Mode = Literal[MODES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AskQuery(Strict):
    """A question on its own: GET /ask's query, and the fields POST /ask shares with it."""

    question: str = Field(
        min_length=1, max_length=MAX_QUESTION_CHARS, pattern=QUESTION_PATTERN,
        description="The question, in Dutch or English.",
        examples=["Hoeveel militairen zijn in 2022 uitgezonden?"],
    )
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="How many passages to return.")
    mode: Mode = Field("hybrid", description="Ranking: dense and BM25 fused (hybrid), or one of them alone.")


class TurnIn(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=QUESTION_PATTERN,
                          description="A question asked earlier in this conversation.")
    passages: list[str] = Field(
        default_factory=list, max_length=MAX_TURN_PASSAGES,
        description="The ids of the passages that answered it, as the API gave them, best first. Ids this index "
        "no longer holds (after a rebuild) are ignored.",
    )

    @field_validator("passages")
    @classmethod
    def _passage_ids(cls, ids: list[str]) -> list[str]:
        for passage_id in ids:
            if not re.match(PASSAGE_ID_PATTERN, passage_id):
                raise ValueError("a passage id is 1 to 64 letters, digits, - or _, as the API gave it")
        return ids


class AskRequest(AskQuery):
    history: list[TurnIn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS,
        description=f"The earlier turns of this conversation, oldest first (at most {MAX_HISTORY_TURNS}). A question "
        "that does not stand on its own (\"en in de Sahel?\") is then understood from them; one that does is answered "
        "exactly as without history. The server keeps no conversation: send the turns with every question.",
    )

    def turns(self) -> list[Turn]:
        return [Turn(turn.question.strip(), tuple(turn.passages)) for turn in self.history]


class Span(BaseModel):
    start: int = Field(ge=0, description="Offset of the first character, within the passage text.")
    end: int = Field(ge=0, description="Offset just past the last character.")


class CitationOut(BaseModel):
    document: str = Field(description="File name relative to the corpus.")
    title: str
    section: list[str] = Field(description="Headings above the passage, outermost first, nearest last.")
    page: Optional[Union[int, str]] = Field(
        description="The page as printed on it (a number, or a roman numeral such as iv for front matter); "
        "without printed numbers, the PDF's page label, else the page's place in the file (see the document's "
        "page_numbering). Null where the document has no pages."
    )
    page_end: Optional[Union[int, str]] = Field(
        None, description="The page the passage ends on, numbered as `page`, when it runs over a page break "
        "(the label then reads \"p. 57–58\"); null when the passage stands on one page."
    )
    line_start: int = Field(ge=1)
    line_end: int = Field(ge=1)
    pdf_page: Optional[int] = Field(
        description="The 1-based page of the PDF file the passage starts on, for opening it there (the printed "
        "`page` may differ: a cover and front matter come first); null for formats other than PDF."
    )
    label: str = Field(description="The citation as people read it.")
    url: str = Field(description="The cited lines in the document viewer.")
    pdf_url: Optional[str] = Field(description="The original PDF opened at `pdf_page`; null for other formats.")


class Excerpt(BaseModel):
    start: int = Field(ge=0, description="Offset in the whole passage where `text` begins.")
    end: int = Field(ge=0, description="Offset in the whole passage just past the end of `text`.")
    length: int = Field(ge=0, description="The whole passage's length in characters.")


class Scores(BaseModel):
    dense: Optional[float] = Field(description="Cosine similarity; null where the dense ranking did not find it.")
    lexical: Optional[float] = Field(description="BM25 score; null where the lexical ranking did not find it.")


class PassageOut(BaseModel):
    id: str
    rank: int = Field(ge=1)
    score: float = Field(description="hybrid: the fused standard score (how far the passage stands out among "
                                     "the candidates, in standard deviations); dense: cosine; lexical: BM25.")
    scores: Scores
    text: str
    citation: CitationOut
    confidence: float = Field(ge=0, le=1, description="The probability that this passage answers the question, from "
                              "evidence that does not depend on the other candidates (cosines, BM25 against what the "
                              "question's words could score, the share of its words the passage holds), calibrated "
                              "on labelled questions.")
    highlight: Span = Field(description="The sentence that best answers the question.")
    terms: list[Span] = Field(description="The question's words (by stem) where they occur in the text.")
    excerpt: Optional[Excerpt] = Field(description=f"Null when `text` is the whole passage. A passage longer than "
                                       f"{ANSWER_TEXT_CHARS} characters (a document without sentence ends, indexed "
                                       "by an older version) is cut to that many around its highlight: then this "
                                       "says where `text` stands in the whole passage, which the citation's "
                                       "`url` shows. `highlight` and `terms` count within `text` either way.")


class ContextOut(BaseModel):
    turns: list[int] = Field(description="The 0-based indices into `history` of the turns the question was "
                                         "understood from.")
    questions: list[str] = Field(description="Those turns' questions, in the same order.")
    terms: list[str] = Field(description="The words borrowed from them.")


class AskResponse(BaseModel):
    question: str
    mode: Mode
    context: Optional[ContextOut] = Field(
        description="Null when the question stood on its own; else the earlier turns it was understood from "
        "(a follow-up such as \"en hoeveel kostte dat?\")."
    )
    answered: bool = Field(description="False when no passage is likely to answer the question (none of the first five "
                                       "reaches the confidence threshold): the documents probably do not say. The "
                                       "nearest passages are still given.")
    passages: list[PassageOut]
    generation: str = Field(description="The index generation that answered.")
    took_ms: float


class HealthResponse(BaseModel):
    status: Literal["ok"]
    passages: int
    documents: int
    generation: str
    model: str
    index_type: str
    confidence: str = Field(description="Where the passages' confidence comes from: a calibration fitted for the "
                                        "model, or the lexical rule for a model without one.")


class DocumentUpload(BaseModel):
    """The multipart form of POST /documents (described here; Flask parses the form)."""

    file: list[bytes] = Field(min_length=1, description="One or more files (.pdf, .docx, .html, .md, .txt), each under the field name `file`.")


class DocumentReplacement(BaseModel):
    """The multipart form of PUT /documents/{name}."""

    file: bytes = Field(description="The new version of the document, in the same format.")


class RebuildRequest(Strict):
    full: bool = Field(False, description="Re-embed every passage instead of reusing the vectors of unchanged ones.")


class DocumentOut(BaseModel):
    name: str = Field(description="The document's name in the corpus, as citations give it.")
    title: str
    passages: int = Field(ge=0, description="How many passages of it the index holds.")
    pages: Optional[int] = Field(description="How many pages it has; null where the format has no pages.")
    page_numbering: Optional[Literal["printed", "labels", "ordinal"]] = Field(
        description="Where citations' page numbers come from: the numbers printed on the pages, the PDF's "
        "page labels, or the pages' order in the file; null where the format has no pages."
    )
    url: str = Field(description="The document in the viewer.")


class DocumentPart(BaseModel):
    """The query of the document viewer, which shows a long document a part at a time."""

    lines: str = Field(None, pattern=LINES_PATTERN, description="The lines to show the part of the document for "
                       "(A or A-B, as a citation's url names them); the first part without it.")


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]
    generation: str = Field(description="The index generation the list comes from.")


class BuildOut(BaseModel):
    generation: str = Field(description="The index generation that is live now.")
    documents: int
    passages: int
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: dict[str, str] = Field(description="Corpus files that could not be read, with the reason.")
    reused: int = Field(description="Passages whose vectors were reused from the previous generation.")
    embedded: int = Field(description="Passages embedded in this build.")
    seconds: float
    up_to_date: bool = Field(description="True when the index already matched the corpus and nothing was built.")
    summary: str = Field(description="The same, as the command line prints it.")


class CorpusChangeResponse(BaseModel):
    generation: str = Field(description="The index generation that is live now and holds the change.")
    documents: list[DocumentOut] = Field(description="The documents added or replaced, as indexed.")
    removed: list[str] = Field(description="The documents removed.")
    build: BuildOut


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


def document_url(document: str) -> str:
    return f"/documents/{quote(document)}"


def citation_url(document: str, line_start: int, line_end: int) -> str:
    """The viewer at the cited lines. The viewer shows a long document a part at a time; past
    the first part, the address names the lines so the server sends the part that holds them."""
    part = "" if line_end <= VIEWER_LINES else f"?lines={line_start}-{line_end}"
    return f"{document_url(document)}{part}#L{line_start}-L{line_end}"


def original_url(document: str, pdf_page: int | None = None) -> str:
    return f"{document_url(document)}/original" + (f"#page={pdf_page}" if pdf_page else "")


def document_out(summary) -> DocumentOut:
    """An indexed document (index.DocumentSummary) as the API shows it."""
    return DocumentOut(name=summary.name, title=summary.title, passages=summary.passages, pages=summary.pages,
                       page_numbering=summary.page_numbering, url=document_url(summary.name))


def excerpt_around(text: str, highlight: tuple[int, int], limit: int = ANSWER_TEXT_CHARS) -> tuple[int, int]:
    """The stretch of at most `limit` characters of `text` to show: all of it when it fits,
    else a window on the highlight's start (as much of the highlight as fits, and the text
    around it), its edges moved back to word boundaries."""
    if len(text) <= limit:
        return 0, len(text)
    start, end = highlight
    room = max(0, limit - (end - start))
    start = max(0, min(start - room // 2, len(text) - limit))
    end = min(len(text), start + limit)
    if start > 0 and (space := text.find(" ", start, min(end, start + 100))) >= 0:
        start = space + 1
    if end < len(text) and (space := text.rfind(" ", max(start, end - 100), end)) > start:
        end = space
    return start, end


def _within(span: tuple[int, int], start: int, end: int) -> Span:
    """A span of the whole passage as a span of its excerpt start..end (cut to it)."""
    return Span(start=min(max(span[0] - start, 0), end - start), end=min(max(span[1] - start, 0), end - start))


def answer_response(answer: Answer) -> AskResponse:
    passages = []
    for hit in answer.hits:
        c = hit.passage.citation
        text = hit.passage.text
        start, end = excerpt_around(text, hit.highlight)
        passages.append(
            PassageOut(
                id=hit.passage.id,
                rank=hit.rank,
                score=round(hit.score, 4),
                scores=Scores(
                    dense=None if hit.dense is None else round(hit.dense, 4),
                    lexical=None if hit.lexical is None else round(hit.lexical, 4),
                ),
                text=text[start:end],
                citation=CitationOut(
                    document=c.document, title=c.title, section=list(c.section), page=c.page, page_end=c.page_end,
                    line_start=c.line_start, line_end=c.line_end, pdf_page=c.pdf_page, label=c.label,
                    url=citation_url(c.document, c.line_start, c.line_end),
                    pdf_url=original_url(c.document, c.pdf_page) if c.pdf_page is not None else None,
                ),
                confidence=round(hit.confidence, 4),
                highlight=_within(hit.highlight, start, end),
                terms=[_within(term, start, end) for term in hit.terms if start <= term[0] and term[1] <= end],
                excerpt=None if (start, end) == (0, len(text)) else Excerpt(start=start, end=end, length=len(text)),
            )
        )
    context = answer.context
    return AskResponse(
        question=answer.question, mode=answer.mode,
        context=None if context is None else ContextOut(turns=list(context.turns), questions=list(context.questions),
                                                        terms=list(context.terms)),
        answered=answer.answered, passages=passages,
        generation=answer.generation, took_ms=round(answer.took_ms, 1),
    )


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's errors as one sentence a person can act on."""
    messages = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        kind = item["type"]
        question = field == "question" or re.fullmatch(r"history\.\d+\.question", field)
        if kind == "string_pattern_mismatch" and question:
            message = f"{field} must contain text and no control characters"
        elif kind == "string_too_short" and question:
            message = f"{field} is empty; type a question"
        elif kind == "string_too_long" and question:
            message = f"{field} is too long; keep it under {MAX_QUESTION_CHARS} characters"
        elif kind == "too_long" and field == "history":
            message = f"history holds at most {MAX_HISTORY_TURNS} turns; send the last {MAX_HISTORY_TURNS}"
        elif kind == "too_long" and field.endswith(".passages"):
            message = f"{field} holds at most {MAX_TURN_PASSAGES} passage ids"
        elif kind == "value_error":
            message = f"{field}: {str(item['ctx']['error'])}"
        elif kind == "missing":
            message = f"{field} is required"
        elif kind == "extra_forbidden":
            message = f"{field} is not a known field"
        elif kind == "literal_error" and field == "mode":
            message = f"mode must be one of {', '.join(MODES)}"
        elif kind == "model_type":  # names no class of ours: "…instance of TurnIn"
            message = f"{field} must be an object"
        else:
            message = f"{field}: {item['msg'][:1].lower() + item['msg'][1:]}"
        messages.append(message)
    return "; ".join(messages) + "."


def build_response(report: BuildReport) -> BuildOut:
    return BuildOut(
        generation=report.generation, documents=report.documents, passages=report.passages,
        added=report.added, changed=report.changed, removed=report.removed, skipped=report.skipped,
        reused=report.reused, embedded=report.embedded, seconds=round(report.seconds, 2),
        up_to_date=report.up_to_date, summary=report.summary(),
    )


def change_response(change: CorpusChange) -> CorpusChangeResponse:
    return CorpusChangeResponse(
        generation=change.report.generation,
        documents=[document_out(d) for d in change.documents],
        removed=change.removed,
        build=build_response(change.report),
    )
