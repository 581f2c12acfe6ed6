"""Go's ``text/tabwriter`` (left-aligned, space padding), which lays out every kubectl table and describe page.

Cells are tab-terminated; a line's text after its last tab is not a cell of any column. A column
block is a run of consecutive lines that all have a cell in that column; its width is the widest
cell plus the padding (at least ``min_width``). ``get`` uses min width 6 and padding 3, ``describe``
0 and 2.
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_WIDTH = 6
PADDING = 3


class TabWriter:
    """Collects tab-separated lines and renders them aligned."""

    def __init__(self, min_width: int = MIN_WIDTH, padding: int = PADDING) -> None:
        self.min_width = min_width
        self.padding = padding
        self.lines: list[list[str]] = []

    def write(self, text: str) -> None:
        """Add text; ``\\t`` ends a cell and ``\\n`` ends a line."""
        for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
            self.lines.append(line.split("\t"))

    def render(self) -> str:
        out: list[str] = []
        self._format(out, [], 0, len(self.lines))
        return "".join(out)

    def _format(self, out: list[str], widths: list[int], line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            self._write_lines(out, widths, line0, this)
            line0 = this
            width = self.min_width
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, len(self.lines[this][column]) + self.padding)
                this += 1
            self._format(out, [*widths, width], line0, this)
            line0 = this
        self._write_lines(out, widths, line0, line1)

    def _write_lines(self, out: list[str], widths: list[int], line0: int, line1: int) -> None:
        for line in self.lines[line0:line1]:
            parts = []
            for j, cell in enumerate(line):
                parts.append(cell + " " * (widths[j] - len(cell)) if j < len(widths) else cell)
            out.append("".join(parts) + "\n")


def format_rows(rows: Sequence[Sequence[str]], keep: list[int] | None = None) -> str:
    """Table rows (kubectl ``get`` layout), one line each. ``keep`` carries column widths from one call to
    the next (``get -w`` prints each event alone, aligned with what it printed before) and is updated."""
    if keep is None:
        w = TabWriter()
        w.lines = [list(row) if row else [""] for row in rows]
        return w.render()
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            width = max(len(cell) + PADDING, MIN_WIDTH)
            if i == len(keep):
                keep.append(width)
            elif width > keep[i]:
                keep[i] = width
    return "".join("".join(c.ljust(keep[i]) for i, c in enumerate(row[:-1])) + (row[-1] if row else "") + "\n"
                   for row in rows)
