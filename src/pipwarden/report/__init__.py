"""Reporters: ``render(report) -> str``. One module per format; looked up by name."""

from __future__ import annotations

import importlib
from typing import Protocol

from pipwarden.models import Report


class Reporter(Protocol):
    name: str

    def render(self, report: Report) -> str: ...


# format name -> "module:Class"
REPORTERS: dict[str, str] = {
    "table": "pipwarden.report.table:TableReporter",
    "json": "pipwarden.report.json:JsonReporter",
    "sarif": "pipwarden.report.sarif:SarifReporter",
    "cyclonedx": "pipwarden.report.cyclonedx:CycloneDXReporter",
    "markdown": "pipwarden.report.markdown:MarkdownReporter",
}


def get_reporter(name: str) -> Reporter:
    target = REPORTERS[name]
    module, _, cls = target.partition(":")
    reporter: Reporter = getattr(importlib.import_module(module), cls)()
    return reporter
