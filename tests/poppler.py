"""Reading a PDF the way its reader would, with poppler-utils (Debian's poppler-utils
package; .ci/run installs it): its text as laid out on the pages, its attachments, and its
pages as PNG images. A missing poppler skips locally and fails in CI (requirement_missing)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import requirement_missing


def _tool(name):
    path = shutil.which(name)
    if path is None:
        requirement_missing(f"{name} is not installed (apt-get install poppler-utils)")
    return path


def _run(*args, cwd=None):
    return subprocess.run(args, check=True, capture_output=True, cwd=cwd, timeout=120).stdout


def text(pdf: bytes) -> str:
    """The text of every page, in reading order (`pdftotext -layout` would keep columns)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        return _run(_tool("pdftotext"), "-enc", "UTF-8", str(source), "-").decode("utf-8")


def attachment(pdf: bytes, name: str) -> bytes:
    """The embedded file called `name`, as `pdfdetach` saves it."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        listing = _run(_tool("pdfdetach"), "-list", str(source)).decode("utf-8")
        assert f": {name}" in listing, listing
        out = Path(folder) / "attached"
        _run(_tool("pdfdetach"), "-savefile", name, "-o", str(out), str(source))
        return out.read_bytes()


def pages_as_png(pdf: bytes, *, dpi: int = 110) -> list[bytes]:
    """Every page rendered to a PNG image, first page first."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        _run(_tool("pdftoppm"), "-png", "-r", str(dpi), str(source), str(Path(folder) / "page"))
        pages = sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
        return [p.read_bytes() for p in pages]
