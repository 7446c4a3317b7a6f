"""Encoding detection and a forgiving UTF-8 decoder for uploaded files."""

from __future__ import annotations

import codecs
import io
import re
from typing import BinaryIO

from core.importing.records import ImportFileError

SAMPLE_BYTES = 64 * 1024

# Decoding errors in a file we judged to be UTF-8 (the sniff only sees the first 64 KiB)
# are retried as Windows-1252 for just the offending bytes. Spreadsheets stitched together
# from several sources really do mix the two, and cp1252 is what Excel on Windows writes.
# The alternative, failing the whole import on row 40,000, is worse for the photographer.
# The five bytes cp1252 leaves undefined become U+FFFD.
UTF8_FALLBACK_ERRORS = "wedsync-cp1252-fallback"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


def _ensure_error_handler() -> None:
    try:
        codecs.lookup_error(UTF8_FALLBACK_ERRORS)
    except LookupError:
        codecs.register_error(UTF8_FALLBACK_ERRORS, _cp1252_fallback)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "This looks like an Excel workbook or a zip file. Save it as CSV and try again."),
    (b"\xd0\xcf\x11\xe0", "This looks like an old Excel (.xls) file. Save it as CSV and try again."),
    (b"%PDF", "This is a PDF, not a spreadsheet. Export your clients as CSV and try again."),
)
BINARY_MESSAGE = "This doesn't look like a spreadsheet (it contains binary data). Export it as CSV and try again."
EMPTY_MESSAGE = "This file looks empty."
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class Detected:
    """Result of sniffing: codec name, error handler, and the decoded sample text."""

    __slots__ = ("encoding", "errors", "sample_text")

    def __init__(self, encoding: str, errors: str, sample_text: str) -> None:
        self.encoding = encoding
        self.errors = errors
        self.sample_text = sample_text


def read_sample(stream: BinaryIO, size: int = SAMPLE_BYTES) -> bytes:
    """Read up to `size` bytes, looping because pipes and sockets return short reads."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _utf16_without_bom(sample: bytes) -> str | None:
    # Text in UTF-16 without a BOM has a NUL in every other byte for Latin text.
    pairs = sample[: len(sample) - len(sample) % 2][:4096]
    if len(pairs) < 8:
        return None
    even_nuls = pairs[0::2].count(0)
    odd_nuls = pairs[1::2].count(0)
    half = len(pairs) // 2
    if odd_nuls > 0.7 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.7 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _decode_sample(sample: bytes, encoding: str, errors: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    # final=False: the sample may end inside a multi-byte character.
    return decoder.decode(sample, final=False)


def _looks_binary(text: str) -> bool:
    # NUL characters alone do not make a file binary: a damaged export or a file stitched together can hold a few
    # anywhere, and the reader removes and reports them. Binary data has other control characters too.
    head = text[:16384].replace("\x00", "")
    controls = sum(1 for ch in head if ch < " " and ch not in "\t\r\n\f")
    return controls > max(2, len(head) // 100)


def detect_encoding(sample: bytes) -> Detected:
    """Pick a codec from a leading sample, or raise ImportFileError for non-text files."""
    _ensure_error_handler()
    if not sample.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ImportFileError(EMPTY_MESSAGE)
    for magic, message in _MAGIC:
        if sample.startswith(magic):
            raise ImportFileError(message)

    if sample.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding, errors = "utf-32", "replace"
    elif sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, errors = "utf-16", "replace"
    elif sample.startswith(b"\xef\xbb\xbf"):
        encoding, errors = "utf-8-sig", UTF8_FALLBACK_ERRORS
    elif guessed := _utf16_without_bom(sample):
        encoding, errors = guessed, "replace"
    else:
        try:
            _decode_sample(sample, "utf-8", "strict")
            encoding, errors = "utf-8", UTF8_FALLBACK_ERRORS
        except UnicodeDecodeError:
            # Some bytes are not UTF-8. If others are well-formed multi-byte UTF-8 (Windows-1252 text
            # almost never is), this is a UTF-8 file with pasted-in cp1252 rows: decode it as UTF-8
            # and fall back per byte, rather than turning every "ë" into "Ã«".
            mixed = _UTF8_MULTIBYTE.search(sample) is not None
            encoding, errors = ("utf-8", UTF8_FALLBACK_ERRORS) if mixed else ("cp1252", "replace")

    text = _decode_sample(sample, encoding, errors)
    if _looks_binary(text):
        raise ImportFileError(BINARY_MESSAGE)
    if not text.strip():
        raise ImportFileError(EMPTY_MESSAGE)
    return Detected(encoding, errors, text)


class _PrefixedStream(io.RawIOBase):
    """Replays the already-read sample, then continues with the rest of the stream.

    This avoids seeking, so uploads that arrive as non-seekable streams work too.
    """

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        chunk = self._rest.read(len(buffer))
        if not chunk:
            return 0
        n = len(chunk)
        buffer[:n] = chunk
        return n


def open_text(stream: BinaryIO) -> tuple[io.TextIOWrapper, Detected]:
    """Sniff the encoding and return an incremental text stream over the whole input.

    newline="" keeps line endings untranslated, as the csv module requires, so newlines
    inside quoted cells survive.
    """
    sample = read_sample(stream)
    detected = detect_encoding(sample)
    raw = io.BufferedReader(_PrefixedStream(sample, stream), buffer_size=SAMPLE_BYTES)
    text = io.TextIOWrapper(raw, encoding=detected.encoding, errors=detected.errors, newline="")
    return text, detected
