"""Markdown: `#` and underlined headings give the sections, the first top heading the title."""

from __future__ import annotations

import re
from pathlib import Path

from .model import Block, Document, DocumentError, Heading, Line, Paragraph, title_from_name
from .text import decode

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def read_markdown(path: Path, name: str) -> Document:
    """Markdown: `#` headings give the sections, the first top heading the title."""
    raw = decode(path.read_bytes(), name).replace("\r\n", "\n").replace("\r", "\n")
    lines = [Line(i + 1, None, t.rstrip()) for i, t in enumerate(raw.removesuffix("\n").split("\n"))]
    if not any(line.text.strip() for line in lines):
        raise DocumentError(f"{name} holds no text.")
    blocks: list[Block] = []
    current: list[Line] = []
    in_fence = False
    title = ""

    def flush():
        if current:
            blocks.append(Paragraph(tuple(current)))
            current.clear()

    for i, line in enumerate(lines):
        text = line.text
        if text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            current.append(line)
            continue
        heading = None if in_fence else _ATX.match(text)
        underline = lines[i + 1].text.strip() if i + 1 < len(lines) else ""
        if heading:
            level, heading_text = len(heading.group(1)), heading.group(2)
        elif not in_fence and not current and text.strip() and underline and set(underline) in ({"="}, {"-"}):
            level, heading_text = (1 if underline[0] == "=" else 2), text.strip()
        elif not in_fence and text.strip() and set(text.strip()) in ({"="}, {"-"}) and blocks and isinstance(blocks[-1], Heading) and blocks[-1].line.number == line.number - 1:
            continue  # the underline of a setext heading
        else:
            if text.strip():
                current.append(line)
            elif not in_fence:
                flush()
            continue
        flush()
        if not title and level == 1 and not blocks:
            title = heading_text
            continue
        blocks.append(Heading(heading_text, level, line))
    flush()
    return Document(name, title or title_from_name(name), blocks, lines)
