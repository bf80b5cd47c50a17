"""Replace a file all at once: readers see the old file or the new one, never
half of either, and after a crash the new one is either complete or absent.

Write to a temporary file beside the target, fsync it, rename it over the
target, then fsync the folder so the rename itself survives a power cut.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _readable_by_all(path: Path) -> None:
    # mkstemp creates 0600 files; models must be readable by the web server's user.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; when the block ends
    without an error, it replaces ``path`` durably. On an error ``path`` is unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder (one filesystem, so the rename is atomic) and same suffix
    # (Keras picks the format from it).
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        _readable_by_all(tmp)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically and durably."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
