"""What a file is, told from its bytes (never its name), and its text for the agents.

The name only has to agree with the content: a program named ``.pdf`` is refused.
Extraction that fails on a valid file keeps the file and says why the agents can't
read it; a file that is not what it claims, or can't be opened at all, is refused.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass

from web4os.errors import InvalidInput

MAX_NAME = 200
MAX_TEXT_CHARS = 400_000  # extracted text kept for the agents (a long book's worth)
MAX_PDF_PAGES = 2000
MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED_BYTES = 100_000_000
MAX_ZIP_RATIO = 200  # a DOCX entry expanding more than this is a bomb, not a document

IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
                    b"GIF87a": "image/gif", b"GIF89a": "image/gif"}
PROGRAM_SIGNATURES = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe",
                      b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\x00asm")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT_TYPES = {"text": "text/plain; charset=utf-8", "markdown": "text/markdown; charset=utf-8",
              "csv": "text/csv; charset=utf-8"}
# What a name's extension promises; a name without one of these is told by content alone.
NAME_KINDS = {".pdf": "pdf", ".docx": "docx", ".png": "image", ".jpg": "image",
              ".jpeg": "image", ".gif": "image", ".webp": "image", ".txt": "text",
              ".text": "text", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}
LABELS = {"pdf": "a PDF", "docx": "a Word document (DOCX)", "image": "an image",
          "text": "plain text", "markdown": "Markdown", "csv": "a CSV table"}
IMAGE_ONLY = "Images are stored and listed; an agent sees them only where its model reads images."


@dataclass(frozen=True)
class Detected:
    """A file's kind and safe content type, its text, and why agents can't read it (if so)."""

    kind: str
    content_type: str
    text: str
    unreadable_reason: str = ""


def clean_name(raw: str) -> str:
    """A file name fit to show and to put in a download header, or a clear refusal."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise InvalidInput("Give the file a name.", field="file")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        raise InvalidInput("File names can't contain control characters.", field="file")
    if "/" in name or "\\" in name or name.strip(".") == "":
        raise InvalidInput("A file name can't be a path (no “/”, “\\” or “..”); upload the "
                           "file under its own name.", field="file")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"Keep file names under {MAX_NAME} characters.", field="file")
    return name


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def detect(name: str, data: bytes) -> Detected:
    """The file's kind from its bytes, checked against what its name claims."""
    if not data:
        raise InvalidInput(f"“{name}” is empty.", field="file")
    if data.startswith(PROGRAM_SIGNATURES):
        raise InvalidInput(f"“{name}” is a program, not a document; programs aren't accepted.",
                           field="file")
    kind = _sniff(name, data)
    promised = NAME_KINDS.get(_extension(name))
    if promised is not None and _family(promised) != _family(kind):
        raise InvalidInput(f"“{name}” is named like {LABELS[promised]}, but its content is "
                           f"{LABELS[kind]}. Rename it or upload the right file.", field="file")
    if kind == "pdf":
        return _pdf(name, data)
    if kind == "docx":
        return _docx(name, data)
    if kind == "image":
        return Detected("image", _image_type(data), "", IMAGE_ONLY)
    return _text(name, data, promised or "text")


def _family(kind: str) -> str:
    return "text" if kind in TEXT_TYPES else kind


def _image_type(data: bytes) -> str:
    for signature, content_type in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    return "image/webp"


def _sniff(name: str, data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx"  # checked as one by _docx: another zip is refused there
    if data.startswith(tuple(IMAGE_SIGNATURES)) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if b"\x00" in data[:8192]:
        raise InvalidInput(f"“{name}” is not a kind of file we take: plain text, Markdown, CSV, "
                           "PDF, DOCX or an image (PNG, JPEG, GIF, WebP).", field="file")
    return "text"


def _text(name: str, data: bytes, kind: str) -> Detected:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"“{name}” is not UTF-8 text; save it as UTF-8 and upload it again.",
                           field="file") from None
    if kind == "csv":
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise InvalidInput(f"“{name}” is not a readable CSV table ({exc}).",
                               field="file") from None
        if not rows:
            raise InvalidInput(f"“{name}” has no rows.", field="file")
    return Detected(kind, TEXT_TYPES[kind], _capped(text))


def _capped(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "\n[… the rest is cut]"


def _pdf(name: str, data: bytes) -> Detected:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput(f"“{name}” is password-protected; remove the password and upload "
                               "it again.", field="file")
        pages = reader.pages
        count = len(pages)
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InvalidInput(f"“{name}” is damaged or not a real PDF, so it can't be opened "
                           f"({type(exc).__name__}).", field="file") from None
    texts: list[str] = []
    failed = 0
    for page in list(pages)[:MAX_PDF_PAGES]:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # one bad page must not lose the rest of the document
            failed += 1
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    reason = ""
    if not text:
        reason = ("No text could be read from this PDF (scanned pages are pictures), so the "
                  "agents can't read it.")
    elif failed:
        reason = f"{failed} of {count} pages could not be read; the agents see the rest."
    elif count > MAX_PDF_PAGES:
        reason = f"Only the first {MAX_PDF_PAGES} of {count} pages are read."
    return Detected("pdf", "application/pdf", _capped(text), reason)


def _docx(name: str, data: bytes) -> Detected:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidInput(f"“{name}” is damaged or not a real DOCX, so it can't be opened.",
                           field="file") from None
    names = {i.filename for i in infos}
    if "word/document.xml" not in names:
        raise InvalidInput(f"“{name}” is a ZIP archive, not a Word document; we take DOCX, "
                           "not other archives.", field="file")
    unzipped = sum(i.file_size for i in infos)
    if (len(infos) > MAX_ZIP_ENTRIES or unzipped > MAX_UNZIPPED_BYTES
            or any(i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1) and i.file_size > 1_000_000
                   for i in infos)):
        raise InvalidInput(f"“{name}” unpacks to far more than a document would "
                           f"({unzipped:,} bytes in {len(infos)} parts), so it is refused.",
                           field="file")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            parts += [" | ".join(c.text for c in row.cells) for row in table.rows]
    except Exception as exc:  # python-docx raises many kinds on a broken package
        raise InvalidInput(f"“{name}” is damaged or not a real DOCX, so it can't be opened "
                           f"({type(exc).__name__}).", field="file") from None
    text = "\n".join(p for p in parts if p.strip())
    reason = "" if text else "This document has no text, so the agents have nothing to read."
    return Detected("docx", DOCX_TYPE, _capped(text), reason)
