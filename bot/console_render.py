"""Reply -> plain text for the console, with buttons drawn as numbered choices (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Button, Reply


@dataclass(frozen=True, slots=True)
class RenderedText:
    text: str
    choices: tuple[str, ...]  # button action ids; choice N is choices[N-1]


def render_text(reply: Reply, *, image_note: str | None = None) -> RenderedText:
    """``image_note`` says where the reply's image went (a file path); the text cannot hold it."""
    lines: list[str] = []
    choices: list[str] = []

    def buttons_line(buttons: tuple[Button, ...], indent: str) -> None:
        labels = []
        for button in buttons:
            choices.append(button.action)
            link = f" ({button.url})" if button.url else ""
            labels.append(f"[{len(choices)}] {button.label}{link}")
        if labels:
            lines.append(indent + "  ".join(labels))

    if reply.title:
        lines.append(f"== {reply.title} ==")
    if reply.text:
        lines.append(("Error: " if reply.is_error else "") + reply.text)
    width = max((len(f.label) for f in reply.fields), default=0)
    lines.extend(f"  {f.label.ljust(width)}  {f.value}" for f in reply.fields)
    for item in reply.items:
        lines.append(f"  • {item.text}")
        if item.detail:
            lines.append(f"    {item.detail}")
        buttons_line(item.buttons, "    ")
    if reply.context:
        lines.append(f"  ({reply.context})")
    if reply.image is not None:
        note = image_note or f"{len(reply.image)} bytes, not saved"
        lines.append(f"  [chart {reply.image_name or 'chart.png'}: {note}]")
    buttons_line(reply.buttons, "")
    return RenderedText(text="\n".join(lines), choices=tuple(choices))
