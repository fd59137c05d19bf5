"""Markdown for pull-request comments: a verdict line, the packages that need attention,
their vulnerabilities with fix versions, skipped packages and the database snapshot."""

from __future__ import annotations

from collections import Counter

from pipwarden.models import PackageResult, Report, Verdict

ICON = {Verdict.BLOCK: "⛔", Verdict.WARN: "⚠️", Verdict.PASS: "✅", Verdict.ERROR: "❗"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fix(p: PackageResult) -> str:
    fix = p.extra.get("fix")
    if not isinstance(fix, dict):
        return ""
    if not fix.get("version"):
        return "no clean release known"
    text = f"→ `{fix['version']}`"
    if fix.get("conflicts"):
        text += " (conflicts: " + "; ".join(fix["conflicts"]) + ")"
    return text


def render_markdown(report: Report) -> str:
    n = len(report.packages)
    counts = ", ".join(f"{report.count(v)} {v.value}" for v in (Verdict.BLOCK, Verdict.WARN, Verdict.PASS,
                                                                 Verdict.ERROR) if report.count(v))
    head = "⛔" if report.count(Verdict.BLOCK) else "⚠️" if report.count(Verdict.WARN) or report.skipped else "✅"
    out = [f"### {head} pipwarden audit: {n} package{'s' if n != 1 else ''} ({counts or 'none'})", ""]
    attention = [p for p in report.packages if p.verdict is not Verdict.PASS or p.extra.get("vulnerabilities")]
    if attention:
        out += ["| package | version | verdict | findings | fix |", "|---|---|---|---|---|"]
        for p in attention:
            kinds = Counter(f"{f.id} {f.severity.label}" for f in p.findings)
            top = "; ".join(f"{n}× {k}" if n > 1 else k for k, n in kinds.items())
            if p.error:
                top = f"error: {p.error}"
            out.append(f"| {_cell(p.name)} | {_cell(p.version or '')} | {ICON[p.verdict]} {p.verdict.value} | "
                       f"{_cell(top)} | {_cell(_fix(p))} |")
        out.append("")
    vulns = [(p, v) for p in report.packages for v in p.extra.get("vulnerabilities", ())]
    if vulns:
        out += ["<details><summary>Vulnerabilities</summary>", "",
                "| package | id | aliases | severity | fixed in | summary |", "|---|---|---|---|---|---|"]
        for p, v in vulns:
            vid = f"[{v['id']}]({v['url']})" if v.get("url") else v["id"]
            sev = "**malware**" if v.get("malware") else (v.get("severity") or "")
            if v.get("ignored"):
                sev += f" (ignored until {v['ignored']['expires']})"
            aliases, fixed = ", ".join(v.get("aliases", ())), ", ".join(v.get("fix_versions", ()))
            out.append(f"| {_cell(p.name)} {_cell(p.version)} | {vid} | {_cell(aliases)} | "
                       f"{_cell(sev)} | {_cell(fixed)} | {_cell(v.get('summary', ''))} |")
        out += ["", "</details>", ""]
    if report.skipped:
        out += ["**Not vetted** (the audit is incomplete):", ""]
        out += [f"- `{_cell(s.name)}` ({_cell(s.origin or '')}): {_cell(s.reason)}" for s in report.skipped]
        out.append("")
    for ig in report.meta.get("expired_ignores", ()):
        out.append(f"- ignore for `{ig['id']}` expired on {ig['expires']} ({_cell(ig['reason'])}): it applies no more")
    db = report.meta.get("vulnerability_db")
    if isinstance(db, dict) and db.get("name") == "osv-pypi":
        out.append(f"<sub>OSV PyPI snapshot {db['date']}, sha256 `{db['sha256'][:16]}`</sub>")
    elif isinstance(db, dict) and db.get("note"):
        out.append(f"<sub>{_cell(db['note'])}</sub>")
    return "\n".join(out).rstrip() + "\n"


class MarkdownReporter:
    name = "markdown"

    def render(self, report: Report) -> str:
        return render_markdown(report)
