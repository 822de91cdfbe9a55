"""Reading CSV files people bring: encoding and delimiter detected, every physical line accounted for."""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t")
# A quoted cell may hold line breaks, but a record that runs on for this many lines is taken to be
# an unclosed quote, so one bad line can never swallow the rest of the file.
MAX_RECORD_LINES = 200


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the file: the line it starts on, its cells, or why it was unreadable."""

    line: int
    cells: list[str]
    error: str = ""
    delimiter: str = ","


def detect_encoding(chunks: Iterable[bytes]) -> str:
    """UTF-8 (with or without a byte order mark) when every byte decodes as UTF-8, else
    Windows-1252 (spreadsheets saved on Windows). Reads the chunks once, keeping none."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    bom = False
    for chunk in chunks:
        if first:
            bom = chunk.startswith(codecs.BOM_UTF8)
            first = False
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return "cp1252"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig" if bom else "utf-8"


def _unquoted_count(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def sniff_delimiter(header: str) -> str:
    """The delimiter the header line uses most outside quotes (comma on a tie or a one-column file)."""
    counts = {d: _unquoted_count(header, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_quote(text: str, delimiter: str, quoted: bool) -> tuple[bool, bool]:
    """Whether a quoted cell is still open at the end of ``text``, with the csv module's rules
    (a quote opens a cell only at its start; inside, a doubled quote is a quote), and whether
    every closing quote was followed by a delimiter or the end of the line."""
    at_start = not quoted
    clean = True
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quoted:
            if c == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 1
                else:
                    quoted = False
                    clean = clean and (i + 1 == n or text[i + 1] in (delimiter, "\r", "\n"))
        elif c == '"' and at_start:
            quoted = True
        at_start = not quoted and c in (delimiter, "\n", "\r")
        i += 1
    return quoted, clean


def _cells(text: str, delimiter: str) -> list[str]:
    rows = list(csv.reader([text], delimiter=delimiter, strict=False))
    return rows[0] if rows else []


def records(lines: Iterable[str]) -> Iterator[Record]:
    """The header (line 1 of the first record) and then each record, with its starting line.
    ``lines`` keep their line endings (a file opened with ``newline=""``). Blank lines yield a
    record with no cells. A record that would run past ``MAX_RECORD_LINES`` lines, or to the end
    of the file, inside a quote, or whose multi-line cells give the wrong number of columns, is
    reported as its first line alone and reading goes on with the next line."""
    source = iter(lines)
    pending: deque[tuple[int, str]] = deque()
    number = 0

    def next_line() -> tuple[int, str] | None:
        nonlocal number
        if pending:
            return pending.popleft()
        line = next(source, None)
        if line is None:
            return None
        number += 1
        return number, line

    delimiter = ""
    width = 0
    while True:
        first = next_line()
        if first is None:
            return
        start, text = first
        if not delimiter:
            if not text.strip():
                yield Record(start, [])
                continue
            delimiter = sniff_delimiter(text)
        taken = [first]
        quoted, clean = _open_quote(text, delimiter, False)
        while quoted and len(taken) < MAX_RECORD_LINES:
            more = next_line()
            if more is None:
                break
            taken.append(more)
            quoted, tidy = _open_quote(more[1], delimiter, True)
            clean = clean and tidy
        body = "".join(t for _, t in taken)
        cells = _cells(body, delimiter) if body.strip() else []
        if len(taken) > 1 and (quoted or not clean or (width and len(cells) != width)):
            # An unclosed quote: this line alone is bad; the lines it took are read again.
            pending.extendleft(reversed(taken[1:]))
            yield Record(
                start,
                [],
                delimiter=delimiter or ",",
                error='a quote (") opened on this line is never closed; line skipped',
            )
            continue
        if quoted:
            yield Record(
                start,
                [],
                delimiter=delimiter or ",",
                error='a quote (") opened on this line is never closed; line skipped',
            )
            continue
        if not width:
            width = len(cells)
        yield Record(start, cells, delimiter=delimiter)


def delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))
