"""The ``data: <json>\\n\\n`` framing of a simtom response (contract §1.4), as a pure state machine.

Feed bytes in any chunking; get each complete record's JSON text (the ``data: `` prefix
stripped) once its terminating blank line has arrived. No I/O and no JSON parsing happen here.

* A non-empty line that does not start with ``data: ``, or a second ``data:`` line before the
  blank line that ends the first, raises :class:`bnpl.errors.FramingError` with the byte offset
  of the line in the body (garbage is reported, never skipped).
* :meth:`Framer.close` raises :class:`bnpl.errors.TruncatedStreamError` if the body ended inside
  a record (a partial line, or a ``data:`` line without its blank line).
"""

from __future__ import annotations

from bnpl.errors import FramingError, TruncatedStreamError

PREFIX = b"data: "


def _preview(line: bytes) -> str:
    text = line[:60].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(line) > 60 else ""))


class Framer:
    """Incremental parser of one response body."""

    def __init__(self) -> None:
        self._buffer = b""  # the unfinished last line
        self._pieces: list[bytes] = []  # its continuation, fed without a newline
        self._offset = 0  # body offset of self._buffer[0]
        self._pending: bytes | None = None  # payload of a data line awaiting its blank line
        self._pending_at = 0
        self._records = 0
        self._closed = False

    @property
    def records(self) -> int:
        """Records returned so far."""
        return self._records

    @property
    def consumed(self) -> int:
        """Body bytes fed so far."""
        return self._offset + len(self._buffer) + sum(len(p) for p in self._pieces)

    def feed(self, data: bytes) -> list[bytes]:
        """Add body bytes; return the records they complete, in order.

        Raises:
            FramingError: a line is not ``data: `` framing.
        """
        if self._closed:
            raise ValueError("feed() after close()")
        if b"\n" not in data:  # still inside one line: keep the pieces, join them once
            if data:
                self._pieces.append(data)
            head = b"".join([self._buffer, *self._pieces[:6]])[:6]
            if not (head.startswith(PREFIX) or PREFIX.startswith(head[:6])):
                self._fail(b"".join([self._buffer, *self._pieces]), self._offset)
            return []
        block = b"".join([self._buffer, *self._pieces, data])
        self._pieces.clear()
        lines = block.split(b"\n")
        buffer = self._buffer = lines.pop()  # after the last newline: an unfinished line
        out: list[bytes] = []
        if lines:
            end = self._offset + len(block) - len(buffer) - 1  # the last newline
            try:
                self._lines(lines, self._offset, end, out)
            finally:
                self._offset = end + 1
        if buffer and not (buffer.startswith(PREFIX) or PREFIX.startswith(buffer[:6])):
            self._records += len(out)
            self._fail(buffer, self._offset)
        self._records += len(out)
        return out

    def _lines(self, lines: list[bytes], at: int, end: int, out: list[bytes]) -> None:
        """Append to ``out`` the records that complete ``lines`` (without their newlines) complete;
        the lines span body offsets ``at``..``end``.

        The common shape, ``data: <json>`` then an empty line, again and again, is checked and
        sliced with list operations; anything else (extra blank lines, garbage, a record split
        across calls) goes line by line.
        """
        if self._pending is not None:
            self._slow(lines[:1], at, out)
            at += len(lines[0]) + 1
            lines = lines[1:]
        data, blanks = lines[0::2], lines[1::2]
        if not any(blanks) and all(line.startswith(PREFIX) for line in data):
            records = [line[len(PREFIX) :] for line in data]
            if len(lines) % 2:  # the last data line waits for its blank line
                self._pending = records.pop()
                self._pending_at = end - len(lines[-1])
            out += records
            return
        self._slow(lines, at, out)

    def _slow(self, lines: list[bytes], at: int, out: list[bytes]) -> None:
        position = at
        for line in lines:
            if not line:
                if self._pending is not None:
                    out.append(self._pending)
                    self._pending = None
            elif line.startswith(PREFIX) and self._pending is None:
                self._pending = line[len(PREFIX) :]
                self._pending_at = position
            else:
                self._records += len(out)
                out.clear()
                self._fail(line, position)
            position += len(line) + 1

    def _fail(self, line: bytes, position: int) -> None:
        if self._pending is not None and line.startswith(PREFIX):
            reason = "a second data line before the blank line ending the record"
        else:
            reason = "a line that does not start with 'data: '"
        raise FramingError(
            f"malformed framing at byte {position} (after {self._records} records): "
            f"{reason}: {_preview(line)}",
            position=position,
        )

    def close(self) -> None:
        """Declare the end of the body.

        Raises:
            TruncatedStreamError: the body ended inside a record.
        """
        self._closed = True
        if self._pieces:
            self._buffer = b"".join([self._buffer, *self._pieces])
            self._pieces.clear()
        if self._buffer:
            raise TruncatedStreamError(
                f"the body ended inside a line at byte {self._offset} after {self._records} "
                f"complete records ({len(self._buffer)} bytes without a newline)"
            )
        if self._pending is not None:
            raise TruncatedStreamError(
                f"the body ended after the record at byte {self._pending_at} without its blank "
                f"line ({self._records} complete records before it)"
            )


def frame_all(body: bytes) -> list[bytes]:
    """Every record of a complete body.

    Raises:
        FramingError: a line is not ``data: `` framing.
        TruncatedStreamError: the body ends inside a record.
    """
    framer = Framer()
    records = framer.feed(body)
    framer.close()
    return records
