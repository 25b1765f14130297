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


def _preview(line: bytes | bytearray) -> str:
    text = bytes(line[:60]).decode("utf-8", errors="replace")
    return repr(text + ("..." if len(line) > 60 else ""))


class Framer:
    """Incremental parser of one response body."""

    def __init__(self) -> None:
        self._buffer = bytearray()
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
        return self._offset + len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add body bytes; return the records they complete, in order.

        Raises:
            FramingError: a line is not ``data: `` framing.
        """
        if self._closed:
            raise ValueError("feed() after close()")
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if end == start:
                if self._pending is not None:
                    out.append(self._pending)
                    self._pending = None
            elif buffer.startswith(PREFIX, start) and self._pending is None:
                self._pending = bytes(buffer[start + len(PREFIX) : end])
                self._pending_at = self._offset + start
            else:
                self._fail(buffer[start:end], self._offset + start)
            start = end + 1
        if start:
            del buffer[:start]
            self._offset += start
        if buffer and not (buffer.startswith(PREFIX) or PREFIX.startswith(bytes(buffer[:6]))):
            self._fail(buffer, self._offset)
        self._records += len(out)
        return out

    def _fail(self, line: bytes | bytearray, position: int) -> None:
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
