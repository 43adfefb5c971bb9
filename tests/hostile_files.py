"""Small hostile documents the tests and benchmarks/hostile.py make themselves: files of a few KB
that cost a reader gigabytes or minutes (nested Form XObjects, an inflate bomb, a flood of
q/Q operators, a Word file of millions of empty paragraphs)."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

TEXT = b"BT /F1 12 Tf 72 720 Td (Een zin over de begroting van het ministerie.) Tj ET\n"


def write_pdf_objects(path: Path, objects: list[bytes]) -> Path:
    """A PDF of `objects` (object 1 the catalog), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    data = zlib.compress(data, 9)
    extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _one_page(content: bytes, resources: bytes = b"<< /Font << /F1 5 0 R >> >>") -> list[bytes]:
    """Catalog, pages, page, content stream (object 4) and font (object 5)."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources " + resources + b" >>",
        content,
        FONT,
    ]


def write_nested_forms_pdf(path: Path, levels: int = 5, fanout: int = 10) -> Path:
    """A page that draws Form XObject X0, which draws X1 `fanout` times, … down to X<levels-1>,
    which draws a line of text: fanout ** (levels - 1) lines from a file of a few KB."""
    first_form = 6
    objects = _one_page(_stream(TEXT + b"/X0 Do\n"),
                        b"<< /Font << /F1 5 0 R >> /XObject << /X0 %d 0 R >> >>" % first_form)
    for level in range(levels):
        last = level == levels - 1
        body = TEXT if last else b"/X%d Do\n" % (level + 1) * fanout
        children = b"" if last else b" /XObject << /X%d %d 0 R >>" % (level + 1, first_form + level + 1)
        objects.append(_stream(body, b" /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources "
                                     b"<< /Font << /F1 5 0 R >>" + children + b" >>"))
    return write_pdf_objects(path, objects)


def write_inflate_bomb_pdf(path: Path, megabytes: int = 1024) -> Path:
    """A PDF whose page's content stream (a line of text, then spaces) inflates to `megabytes` MB."""
    compressor = zlib.compressobj(9)
    deflated = compressor.compress(TEXT) + _deflated_tail(compressor, b" ", megabytes << 20)
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(deflated) + deflated + b"\nendstream"
    return write_pdf_objects(path, _one_page(content))


def _deflated_tail(compressor, piece: bytes, size: int) -> bytes:
    block = piece * (1 << 20)
    chunks = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(chunks) + compressor.flush()


def write_operator_flood_pdf(path: Path, megabytes: int = 100) -> Path:
    """A PDF whose page's content stream is a line of text and then `megabytes` MB of "q Q "
    (save and restore the graphics state): millions of operators for the interpreter."""
    compressor = zlib.compressobj(9)
    deflated = compressor.compress(TEXT) + _deflated_tail(compressor, b"q Q ", megabytes << 20)
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(deflated) + deflated + b"\nendstream"
    return write_pdf_objects(path, _one_page(content))


def write_empty_paragraphs_docx(path: Path, paragraphs: int = 3_500_000) -> Path:
    """A Word file of one sentence and then `paragraphs` empty paragraphs (compressed: a few KB)."""
    import docx

    scratch = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Een zin over de begroting van het ministerie.")
    document.save(scratch)
    with zipfile.ZipFile(scratch) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                                                             compresslevel=9) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"</w:p>", b"</w:p>" + b"<w:p/>" * paragraphs, 1)
            target.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path
