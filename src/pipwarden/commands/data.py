"""pipwarden data: the popular-projects list behind the typosquat and star-jacking checks."""

from __future__ import annotations

import argparse

HELP = "show or refresh the popular-projects list used by the typosquat checks"
DESCRIPTION = (
    "pipwarden ships a list of the most-downloaded projects (with download counts) for its "
    "typosquat and star-jacking checks. 'data update' refreshes it from a URL or a file into the "
    "cache directory, where it takes precedence over the shipped copy; 'data status' shows which "
    "copy is in use."
)
# The public top-packages dataset (same JSON shape as the shipped copy).
DEFAULT_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
MIN_ROWS = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    upd = sub.add_parser("update", help="download or copy a fresh list into the cache directory")
    upd.add_argument("--from", dest="source", default=DEFAULT_URL, metavar="URL|FILE",
                     help="where to read the list ({\"rows\": [{\"project\", \"download_count\"}]}); "
                          "default: the public top-packages dataset")
    upd.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default 30)")
    sub.add_parser("status", help="which list is in use, its date and size")
    sub.add_parser("reset", help="remove the refreshed list and go back to the shipped copy")


def _read_source(source: str, timeout: float) -> bytes:
    from pathlib import Path

    from pipwarden.errors import PipwardenError, UsageError

    if source.startswith(("http://", "https://")):
        import httpx

        try:
            with httpx.Client(timeout=timeout, follow_redirects=True) as client:
                resp = client.get(source)
                resp.raise_for_status()
                return resp.content
        except httpx.HTTPError as e:
            raise PipwardenError(f"cannot download {source}: {e}") from e
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source}: no such file (give a file or an http(s) URL)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise PipwardenError(f"cannot read {source}: {e.strerror or e}") from e


def run(args: argparse.Namespace) -> int:
    if args.data_command == "update":
        return _update(args.source, args.timeout)
    if args.data_command == "reset":
        return _reset()
    return _status()


def _update(source: str, timeout: float) -> int:
    import json
    import os
    import tempfile
    from pathlib import Path

    from pipwarden.errors import PipwardenError
    from pipwarden.typosquat import parse_rows, user_data_path

    raw = _read_source(source, timeout)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise PipwardenError(f"{source}: not JSON: {e}") from e
    rows = parse_rows(doc)
    if len(rows) < MIN_ROWS:
        raise PipwardenError(f"{source}: only {len(rows)} usable rows; refusing to replace the list with it")
    out = {
        "last_update": str(doc.get("last_update", "")),
        "source": source,
        "rows": [{"project": p, "download_count": c} for p, c in rows],
    }
    target = user_data_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(out, fh)
        Path(tmp).replace(target)
    except OSError as e:
        raise PipwardenError(f"cannot write {target}: {e.strerror or e}") from e
    print(f"popular-projects list updated: {len(rows)} projects (as of {out['last_update'] or 'unknown'}) "
          f"from {source} -> {target}")
    return 0


def _reset() -> int:
    from pipwarden.errors import PipwardenError
    from pipwarden.typosquat import user_data_path

    target = user_data_path()
    if target.exists():
        try:
            target.unlink()
        except OSError as e:
            raise PipwardenError(f"cannot remove {target}: {e.strerror or e}") from e
        print(f"removed {target}; using the shipped list")
    else:
        print("no refreshed list; using the shipped list")
    return 0


def _status() -> int:
    from pipwarden.typosquat import load_document, parse_rows, user_data_path

    doc, source = load_document()
    rows = parse_rows(doc)
    where = "shipped with pipwarden" if source == "shipped" else source
    print(f"popular-projects list: {len(rows)} projects, as of {doc.get('last_update') or 'unknown'}")
    print(f"in use: {where}")
    if source == "shipped":
        print(f"refresh with 'pipwarden data update' (writes {user_data_path()})")
    return 0
