"""Text as it enters the bot: control characters out, line breaks as newlines, other Unicode kept."""

from __future__ import annotations

import re

# Terminal escape sequences go whole (pasted coloured output keeps its words, not "[31m"):
# CSI (ESC [ ... final byte, or its one-byte form U+009B), a terminated OSC (ESC ] ... BEL or
# ESC \\), and the two-character escapes. A lone ESC left over is dropped with the controls.
_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])"  # CSI, OSC, two-character
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI
)
# CR LF and lone CR (pasted from Windows or a CSV file), NEL and the Unicode line and paragraph
# separators are all line breaks: they become "\n" rather than disappear between two words.
_LINE_BREAK = re.compile(r"\r\n?|[\x85\u2028\u2029]")
# Dropped: the C0 controls but tab and newline (NUL, which PostgreSQL refuses in text, a bell,
# a backspace that hides what came before it), DEL and the C1 controls; the bidi
# embeddings, overrides and isolates (U+202A-202E, U+2066-2069), which reorder what is shown so
# that "invoice\u202egpj.exe" reads as "invoiceexe.jpg" (the "Trojan Source" characters);
# a byte-order mark left inside text; and surrogate code points, which are no characters and
# which no store can encode. The bidi marks U+200E/U+200F/U+061C stay: right-to-left text
# needs them and they reorder nothing. So do zero-width joiners (emoji sequences, Indic and
# Persian script), variation selectors and tag characters (flag emoji).
_DROPPED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def clean_input(text: str) -> str:
    """``text`` as the bot keeps it: the same result for the same input wherever it came from,
    and cleaning it again changes nothing."""
    return _DROPPED.sub("", _LINE_BREAK.sub("\n", _ESCAPE.sub("", text)))
