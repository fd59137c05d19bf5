"""Download the OSV PyPI export and (re)build the local database from it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipwarden.vulndb.store import Snapshot, VulnDBError, build_database, default_db_path

# OSV publishes one zip of every record per ecosystem in its public export bucket.
DEFAULT_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
# The PyPI export is a few tens of MB; refuse anything absurdly larger.
MAX_DOWNLOAD = 1 << 30
TIMEOUT = 30.0


def download(url: str, dest_dir: Path, *, timeout: float = TIMEOUT) -> Path:
    """Stream ``url`` into a temporary file in ``dest_dir``; the caller removes it."""
    import httpx

    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".osv-download-", suffix=".zip", dir=dest_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise VulnDBError(f"cannot download the OSV database from {url}: HTTP {resp.status_code}")
            total = 0
            for chunk in resp.iter_bytes(1 << 20):
                total += len(chunk)
                if total > MAX_DOWNLOAD:
                    raise VulnDBError(f"{url}: download larger than {MAX_DOWNLOAD >> 20} MB, refused")
                out.write(chunk)
    except httpx.HTTPError as e:
        path.unlink(missing_ok=True)
        raise VulnDBError(
            f"cannot reach {url} ({type(e).__name__}: {e or 'no detail'}); "
            "download all.zip elsewhere and run 'pipwarden db update --file all.zip'"
        ) from e
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def update(*, url: str | None = None, file: Path | None = None, db_path: Path | None = None) -> Snapshot:
    """Build the database from a local zip (``file``) or from a download (``url``, else the default)."""
    target = db_path or default_db_path()
    if file is not None:
        if not file.is_file():
            raise VulnDBError(f"{file}: no such file")
        return build_database(file, target, source=str(file.resolve()))
    src = url or DEFAULT_URL
    tmp = download(src, target.parent)
    try:
        return build_database(tmp, target, source=src)
    finally:
        tmp.unlink(missing_ok=True)
