"""Go text/tabwriter as podman configures it (minwidth 12, padding 2, spaces, cells left-aligned).

A line is split at tabs; every tab-terminated cell belongs to a column, the text after the last
tab does not.  Column widths are computed per block of consecutive lines that have a cell in
that column, exactly like Go's algorithm.
"""

from __future__ import annotations

MIN_WIDTH = 12
PADDING = 2


def _layout(lines: list[list[str]], minwidth: int, padding: int) -> list[list[int]]:
    """Per-line column widths (Go's recursive block formatting)."""
    result: list[list[int]] = [[] for _ in lines]

    def block(col: int, start: int, end: int, widths: list[int]) -> None:
        pos = start
        i = start
        while i < end:
            if col >= len(lines[i]) - 1:
                i += 1
                continue
            for j in range(pos, i):
                result[j] = list(widths)
            width = minwidth
            k = i
            while k < end and col < len(lines[k]) - 1:
                width = max(width, len(lines[k][col]) + padding)
                k += 1
            block(col + 1, i, k, widths + [width])
            pos = i = k
        for j in range(pos, end):
            if not result[j] or len(result[j]) < len(widths):
                result[j] = list(widths)

    block(0, 0, len(lines), [])
    return result


def align_tabbed(text: str, padding: int = PADDING, minwidth: int = MIN_WIDTH) -> str:
    """Align tab-separated lines of ``text`` like Go's tabwriter."""
    raw_lines = text.split("\n")
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        raw_lines.pop()
    lines = [line.split("\t") for line in raw_lines]
    ncells = {len(cells) for cells in lines}
    if len(ncells) == 1:  # a uniform table (ps, images): one block per column, the layout in one pass
        columns = list(zip(*lines))[:-1]
        pads = [max(minwidth, max(map(len, col)) + padding) for col in columns]
        out = ["".join([c.ljust(w) for c, w in zip(cells, pads)]) + cells[-1] for cells in lines]
        return "\n".join(out) + ("\n" if trailing_newline else "")
    widths = _layout(lines, minwidth, padding)
    out = []
    for cells, w in zip(lines, widths):
        parts = [cell.ljust(w[j]) if j < len(cells) - 1 else cell for j, cell in enumerate(cells)]
        out.append("".join(parts))
    return "\n".join(out) + ("\n" if trailing_newline else "")


def format_table(rows: list[list[str]], padding: int = PADDING, minwidth: int = MIN_WIDTH) -> str:
    """Align ``rows`` (the first is usually the header); the last column is not padded; ends with a newline."""
    if not rows:
        return ""
    text = "".join("\t".join(str(c) for c in row) + "\n" for row in rows)
    return align_tabbed(text, padding, minwidth)
