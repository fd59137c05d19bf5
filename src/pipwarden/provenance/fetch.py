"""Getting provenance documents: the index's Integrity API, the simple API's provenance URL, a file.

``<index root>/integrity/<project>/<version>/<filename>/provenance`` answers a PEP 740
provenance object (JSON). A 404 means the file has no provenance: that is an answer, not an
error. The PEP 691 simple API may give the same URL per file (``IndexFile.provenance``); it is
preferred when present, since a mirror may serve it elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from packaging.utils import canonicalize_name

from pipwarden.errors import PipwardenError

if TYPE_CHECKING:
    from pipwarden.index.client import IndexClient
    from pipwarden.index.models import IndexFile

# A provenance document holds a few attestations of ~10 KB each; anything near this is not one.
MAX_PROVENANCE_BYTES = 4 << 20


class ProvenanceError(PipwardenError):
    """A provenance document cannot be read or used (malformed JSON, wrong shape, unreadable file)."""


def integrity_url(index_root: str, project: str, version: str, filename: str) -> str:
    """The Integrity API URL of one file's provenance."""
    root = index_root if index_root.endswith("/") else index_root + "/"
    name = canonicalize_name(project)
    return f"{root}integrity/{quote(name)}/{quote(version)}/{quote(filename)}/provenance"


def index_root_of(client: IndexClient) -> str:
    """The index root (``https://host/``), from the client, for the Integrity API."""
    root = getattr(client, "root_url", None)
    if isinstance(root, str) and root:
        return root
    simple = str(getattr(client, "index_url", ""))
    base = simple.rstrip("/")
    if base.endswith("/simple"):
        base = base[: -len("/simple")]
    return base + "/"


def provenance_url(client: IndexClient, project: str, version: str, filename: str,
                   index_file: IndexFile | None = None) -> str:
    if index_file is not None and index_file.provenance:
        return index_file.provenance
    return integrity_url(index_root_of(client), project, version, filename)


def fetch_provenance(client: IndexClient, project: str, version: str, filename: str,
                     index_file: IndexFile | None = None) -> tuple[str, dict[str, Any] | None]:
    """(URL asked, the provenance object or None when the index has none).

    Raises IndexClientError when the index cannot be asked and ProvenanceError when the answer
    is not a provenance object.
    """
    url = provenance_url(client, project, version, filename, index_file)
    doc = client.get_json(url)
    if doc is None:
        return url, None
    return url, check_shape(doc, url)


def check_shape(doc: object, source: str) -> dict[str, Any]:
    """The document when it looks like a PEP 740 provenance object, else ProvenanceError."""
    if not isinstance(doc, dict):
        raise ProvenanceError(f"{source}: not a provenance object (a JSON {type(doc).__name__})")
    bundles = doc.get("attestation_bundles")
    if not isinstance(bundles, list):
        raise ProvenanceError(f"{source}: not a provenance object (no 'attestation_bundles' list)")
    return doc


def load_provenance_file(path: Path) -> dict[str, Any]:
    """A saved provenance document (``pipwarden scan FILE --provenance P.json``)."""
    try:
        size = path.stat().st_size
        if size > MAX_PROVENANCE_BYTES:
            raise ProvenanceError(f"{path}: {size} bytes is too large for a provenance document")
        raw = path.read_bytes()
    except OSError as e:
        raise ProvenanceError(f"{path}: cannot read provenance: {e.strerror or e}") from e
    return parse_provenance_bytes(raw, str(path))


def parse_provenance_bytes(raw: bytes, source: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise ProvenanceError(f"{source}: malformed provenance JSON{where}: {reason}") from e
    return check_shape(doc, source)
