"""What malware reaches for, as names and patterns: behaviour, never package names or hashes.

Each table is a *kind* of thing (a credential store, a request catcher service, an autostart
location), so a new sample using the same technique with a different name still matches.
"""

from __future__ import annotations

import ipaddress
import re

SPAWN_CALLS = frozenset(
    {
        "os.system", "os.popen", "os.popen2", "os.popen3", "os.execv", "os.execve", "os.execl", "os.execlp",
        "os.execvp", "os.execle", "os.execvpe", "os.spawnl", "os.spawnv", "os.spawnlp", "os.spawnvp", "os.spawnve",
        "os.posix_spawn", "os.posix_spawnp", "os.startfile", "subprocess.Popen", "subprocess.run",
        "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.getoutput",
        "subprocess.getstatusoutput", "pty.spawn", "commands.getoutput", "asyncio.create_subprocess_shell",
        "asyncio.create_subprocess_exec", "win32api.ShellExecute", "win32process.CreateProcess",
        "ctypes.windll.shell32.ShellExecuteW", "ctypes.windll.shell32.ShellExecuteA", "platform.popen",
    }
)
NET_CALLS = frozenset(
    {
        "urllib.request.urlopen", "urllib.request.urlretrieve", "urllib.request.Request", "urllib.urlopen",
        "urllib.urlretrieve", "urllib2.urlopen", "urllib2.Request", "requests.get", "requests.post",
        "requests.put", "requests.patch", "requests.delete", "requests.head", "requests.request",
        "requests.Session.get", "requests.Session.post", "requests.session.post", "requests.session.get",
        "httpx.get", "httpx.post", "httpx.put", "httpx.request", "httpx.Client.get", "httpx.Client.post",
        "http.client.HTTPConnection", "http.client.HTTPSConnection", "httplib.HTTPConnection",
        "httplib.HTTPSConnection", "socket.create_connection", "socket.socket.connect",
        "socket.socket.connect_ex", "socket.socket.sendto", "urllib3.PoolManager.request",
        "urllib3.PoolManager.urlopen", "urllib3.request", "smtplib.SMTP", "smtplib.SMTP_SSL", "ftplib.FTP",
        "aiohttp.ClientSession.get", "aiohttp.ClientSession.post", "wget.download", "pycurl.Curl",
        "telnetlib.Telnet", "paramiko.SSHClient.connect", "webbrowser.open", "git.Repo.clone_from",
    }
)
DNS_CALLS = frozenset(
    {
        "socket.gethostbyname", "socket.gethostbyname_ex", "socket.getaddrinfo", "dns.resolver.resolve",
        "dns.resolver.query", "dns.resolver.Resolver.resolve", "dns.resolver.Resolver.query",
    }
)
EXEC_CALLS = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile",
                        "types.FunctionType", "execfile", "runpy.run_path", "runpy.run_module"})
DECODE_CALLS = frozenset(
    {
        "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
        "base64.urlsafe_b64decode", "base64.decodebytes", "base64.decodestring", "base64.standard_b64decode",
        "zlib.decompress", "lzma.decompress", "bz2.decompress", "gzip.decompress", "marshal.loads",
        "bytes.fromhex", "codecs.decode", "binascii.unhexlify", "binascii.a2b_base64", "binascii.a2b_hex",
        "pickle.loads", "cPickle.loads", "dill.loads",
    }
)
INSTALL_COMMANDS = frozenset(
    {"install", "develop", "egg_info", "build_py", "build_ext", "build", "sdist", "bdist_wheel", "bdist_egg",
     "install_lib", "install_scripts", "easy_install", "install_egg_info", "build_clib", "build_scripts",
     "_install", "_develop", "_egg_info", "orig_install", "InstallCommand", "DevelopCommand"}
)
BUILD_ONLY_COMMANDS = frozenset({"build_ext", "build_clib", "build_py", "build", "sdist", "bdist_wheel",
                                 "build_scripts"})

# Sources: call -> tag. Tags that identify the machine or user are what dependency-confusion
# probes and stealers send home.
SOURCE_CALLS: dict[str, str] = {
    "os.getenv": "env", "os.environ.get": "env", "os.environ.copy": "env", "os.environ.items": "env",
    "os.environ.keys": "env", "os.environ.values": "env", "os.getenvb": "env",
    "socket.gethostname": "host", "platform.node": "host", "os.uname": "host", "socket.getfqdn": "host",
    "platform.uname": "host", "os.gethostname": "host",
    "getpass.getuser": "user", "os.getlogin": "user", "pwd.getpwuid": "user", "os.getuid": "user",
    "os.getcwd": "cwd", "os.getcwdb": "cwd", "pathlib.Path.cwd": "cwd", "os.path.expanduser": "home",
    "pathlib.Path.home": "home", "os.listdir": "files", "os.walk": "files", "glob.glob": "files",
    "pyperclip.paste": "clipboard", "win32clipboard.GetClipboardData": "clipboard",
    "PIL.ImageGrab.grab": "screen", "ImageGrab.grab": "screen", "pyautogui.screenshot": "screen",
    "mss.mss": "screen", "browser_cookie3.chrome": "browser", "browser_cookie3.load": "browser",
    "browser_cookie3.firefox": "browser", "win32crypt.CryptUnprotectData": "browser",
    "uuid.getnode": "host", "requests.get.text": "ip", "platform.system": "platform",
    "platform.platform": "platform", "platform.version": "platform", "platform.machine": "platform",
    "platform.release": "platform", "psutil.users": "user", "socket.gethostbyname": "ip",
    "netifaces.ifaddresses": "ip", "os.getpid": "platform", "sys.version": "platform",
}
# Machine or user identity: what makes a request an exfiltration rather than a download.
IDENTITY_TAGS = frozenset({"env", "host", "user", "cwd", "home", "ip", "files", "cred", "clipboard", "screen",
                           "browser", "secret"})
STRONG_SECRET_TAGS = frozenset({"cred", "browser", "secret", "clipboard", "screen"})

CREDENTIAL_RE = re.compile(
    r"""(?ix)
    (?:^|[\\/~'"\s])\.ssh(?:[\\/]|$) | id_rsa | id_ed25519 | \.aws[\\/]credentials | \.aws(?:[\\/]|$)
    | \.git-credentials | \.netrc | \.pypirc | \.npmrc | \.docker[\\/]config\.json | \.kube[\\/]config
    | /etc/passwd | /etc/shadow | \.bash_history | \.zsh_history
    | Login\ Data | Local\ State | [\\/]Cookies\b | [\\/]Web\ Data | cookies\.sqlite | logins\.json | key[34]\.db
    | Local\ Storage[\\/]leveldb | \bleveldb\b
    | wallet\.dat | Exodus | Electrum | Atomic[\\/] | MetaMask | nkbihfbeogaeaoehlefnkodbefgpgknn
    | Telegram\ Desktop | \btdata\b | \.purple | FileZilla[\\/] | recentservers\.xml | \.config[\\/]gcloud
    """
)
CREDENTIAL_KIND = (
    (re.compile(r"(?i)\.ssh|id_rsa|id_ed25519"), "SSH keys"),
    (re.compile(r"(?i)\.aws"), "AWS credentials"),
    (re.compile(r"(?i)git-credentials|\.netrc|\.pypirc|\.npmrc|docker|kube|gcloud"), "tool credentials"),
    (re.compile(r"(?i)/etc/(?:passwd|shadow)"), "system accounts"),
    (re.compile(r"(?i)login data|local state|cookies|web data|logins\.json|key[34]\.db"), "browser secrets"),
    (re.compile(r"(?i)leveldb|discord"), "Discord tokens"),
    (re.compile(r"(?i)wallet|exodus|electrum|atomic|metamask|nkbihf"), "crypto wallets"),
    (re.compile(r"(?i)telegram|tdata"), "Telegram session"),
    (re.compile(r"(?i)history"), "shell history"),
)

# Channels built for receiving data: webhooks with their secret in the URL, bot APIs with a token.
WEBHOOK_RE = re.compile(
    r"""(?ix)
    discord(?:app)?\.com/api/webhooks/\d+/[\w-]{20,}
    | hooks\.slack\.com/services/[A-Z0-9]+/[A-Z0-9]+/\w+
    | api\.telegram\.org/bot\d{6,12}:[\w-]{30,}
    | \b\d{8,11}:AA[\w-]{30,}\b
    """
)
# Services that exist to receive requests from anywhere, tunnels, paste sites, shorteners,
# dynamic DNS, onion services: a legitimate package has no reason to call them at install time.
INFRA_RE = re.compile(
    r"""(?ix)
    \b(?P<host>
      (?:[\w-]+\.)*(?:
        webhook\.site | requestbin\.\w+ | (?:en|eo)[\w]*\.m\.pipedream\.net | pipedream\.net | requestcatcher\.com
        | hookbin\.com | beeceptor\.com | burpcollaborator\.net | oastify\.com | oast\.(?:fun|live|me|online|pro|site)
        | interact\.sh | interactsh\.com | canarytokens\.com | dnslog\.cn | ceye\.io | dnslog\.link | bxss\.me
        | ngrok\.io | ngrok-free\.(?:app|dev) | ngrok\.app | ngrok\.dev | trycloudflare\.com | serveo\.net
        | localtunnel\.me
        | loca\.lt | pagekite\.me | portmap\.io | bore\.pub | playit\.gg
        | pastebin\.com | paste\.ee | hastebin\.com | ghostbin\.\w+ | rentry\.co | paste\.c-net\.org | termbin\.com
        | transfer\.sh | anonfiles\.com | file\.io | gofile\.io | temp\.sh | 0x0\.st | bashupload\.com
        | bit\.ly | tinyurl\.com | is\.gd | cutt\.ly | rb\.gy | t\.ly | shorturl\.at | rebrand\.ly | tiny\.cc
        | duckdns\.org | no-ip\.\w+ | ddns\.net | hopto\.org | zapto\.org | sytes\.net | serveo\.net | dynu\.\w+
        | freedns\.afraid\.org | mooo\.com | servehttp\.com | myftp\.\w+ | 3utilities\.com
        | [a-z2-7]{16,56}\.onion
      )
    )
    """
)
INFRA_KIND = (
    (re.compile(r"(?i)webhook\.site|requestbin|pipedream|requestcatcher|hookbin|beeceptor|burpcollaborator|oast"
                r"|interact|canarytokens|dnslog|ceye\.io|bxss"), "request catcher"),
    (re.compile(r"(?i)ngrok|trycloudflare|serveo|localtunnel|loca\.lt|pagekite|portmap|bore\.pub|playit"),
     "tunnel"),
    (re.compile(r"(?i)paste|hastebin|ghostbin|rentry|termbin|transfer\.sh|anonfiles|file\.io|gofile|temp\.sh"
                r"|0x0\.st|bashupload"), "paste or file drop"),
    (re.compile(r"(?i)bit\.ly|tinyurl|is\.gd|cutt\.ly|rb\.gy|t\.ly|shorturl|rebrand\.ly|tiny\.cc"), "URL shortener"),
    (re.compile(r"(?i)\.onion"), "onion service"),
    (re.compile(r"."), "dynamic DNS"),
)
URL_RE = re.compile(r"(?i)\b(?:https?|ftp|wss?|stratum\+tcp)://[^\s'\"<>\\)]+")
IP_URL_RE = re.compile(r"(?i)\b(?:https?|ftp|wss?|tcp)://(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?(?:[/?#]|\b)")

# Shell idioms of droppers: fetch-and-run, encoded or hidden PowerShell, LOLBins.
SHELL_DROPPER_RE = re.compile(
    r"""(?ix)
    (?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:(?:ba|z|da)?sh|python[\d.]*|perl|ruby)\b
    | \bbase64\s+(?:-d|--decode|-D)\b[^|;&]*\|\s*(?:sudo\s+)?(?:(?:ba|z|da)?sh|python[\d.]*)\b
    | (?:curl|wget)\b[^;&|\n]*(?:\$\(|`)(?:hostname|whoami)\b
    | (?:curl|wget)\b[^;&]*(?:-\w*[oO]|--output)\b[^;&]*(?:&&|;)\s*(?:chmod|\./|sh\b|bash\b|start\b)
    | powershell(?:\.exe)?\b[^'"]*-(?:e|ec|en|enc|encodedcommand)\s+[A-Za-z0-9+/=]{16,}
    | -w(?:indowstyle)?\s+hidden | invoke-webrequest | downloadstring\s*\(
    | (?:\biex\b|invoke-expression)[^\n]*(?:https?:|\birm\b|\biwr\b|invoke-restmethod|net\.webclient)
    | (?:\birm\b|\biwr\b|invoke-restmethod)[^\n]*\|\s*(?:\biex\b|invoke-expression)
    | new-object\s+net\.webclient | downloadfile\s*\( | start-process\b[^'"]*-windowstyle
    | \bmshta(?:\.exe)?\s+\S*https?: | \bcertutil(?:\.exe)?\s+[^'"]*-urlcache | \bbitsadmin\b[^'"]*/transfer
    | \bregsvr32\b[^'"]*/i:https? | \brundll32\b[^'"]*javascript: | /dev/tcp/\d | \bnc(?:at)?\s+-e\b
    | bash\s+-i\s*>& | mkfifo\s+/tmp/ | \bxmrig\b | stratum\+tcp://
    | \bpython[\d.]*\s+-c\b[^\n]*\bsocket\b[^\n]*(?:dup2|pty\.spawn)
    | \bcurl\b[^|;&\n]*\s(?:-F\s*['"]?\w*=@|-T\s*|--upload-file\s+|--data(?:-binary)?\s+@|-d\s*@)['"]?[/~$]
    """
)
HIDDEN_FLAG_RE = re.compile(r"(?i)CREATE_NO_WINDOW|DETACHED_PROCESS|SW_HIDE|STARTF_USESHOWWINDOW|0x0*8000000\b"
                            r"|-windowstyle\s+hidden|-w\s+hidden|\bpythonw(?:\.exe)?\b|\bnohup\b|start\s+/b\b")

PERSISTENCE_RE = re.compile(
    r"""(?ix)
    Start\ Menu[\\/]+Programs[\\/]+Startup | \\Startup\\ | shell:startup
    | CurrentVersion[\\/]+Run(?:Once)?\b | CurrentVersion[\\/]+Winlogon | Image\ File\ Execution\ Options
    | \.config/autostart | LaunchAgents | LaunchDaemons | /etc/init\.d/ | /etc/rc\.local
    | /etc/systemd/system | systemd/user | systemctl\ (?:--user\ )?enable | /etc/cron | \bcrontab\b
    | /var/spool/cron | schtasks(?:\.exe)?\s+/create | \.bashrc\b | \.bash_profile\b | \.zshrc\b | \.profile\b
    | authorized_keys
    """
)
ANTI_ANALYSIS_RE = re.compile(
    r"""(?ix)
    \bvbox(?:service|tray|guest|mouse)? | virtualbox | vmware(?:tray|user|service)? | vmtoolsd | qemu-ga | \bxenservice
    | sandboxie | SbieDll | wireshark | fiddler | ollydbg | x64dbg | x32dbg | \bidaq?(?:64)?\.exe | processhacker
    | IsDebuggerPresent | CheckRemoteDebuggerPresent | \bhttpdebugger | \bvmsrvc | df5serv | \bjoebox | cuckoo
    | any\.run | \bWDAGUtilityAccount | 00:0c:29 | 08:00:27 | 00:50:56 | 00:05:69
    """
)
MINER_RE = re.compile(r"(?i)stratum\+(?:tcp|ssl)://|\bxmrig\b|--donate-level|\bcryptonight\b|\bminerd\b|\bnanominer"
                      r"|\bethminer\b|\bnbminer\b|\blolminer\b|\bcpuminer\b|pool\.minexmr|nanopool\.org"
                      r"|supportxmr|moneroocean|2miners\.com|\bnicehash\b")
REVERSE_SHELL_RE = re.compile(r"(?i)/dev/tcp/|bash\s+-i\s*>&|\bnc(?:at)?\s+(?:-\w+\s+)*-e\s|mkfifo\s+/tmp/"
                              r"|socat\s+\S*exec:")
OBFUSCATOR_RE = re.compile(
    rb"__pyarmor__|pyarmor_runtime|__armor_enter__|pyobfuscate|Pyobfuscator|__obfuscator__|BlankOBF"
    rb"|Obfuscated by|Obfuscated with|obfuscated using"
)
# Cheap lowercase substrings that must be present before the anti-analysis and miner regexes run.
ANTI_ANALYSIS_HINTS = (b"vbox", b"virtualbox", b"vmware", b"sandboxie", b"sbiedll", b"wireshark", b"fiddler",
                       b"ollydbg", b"x64dbg", b"x32dbg", b"debuggerpresent", b"qemu-ga", b"vmtoolsd", b"cuckoo",
                       b"processhacker", b"00:0c:29", b"08:00:27", b"00:50:56", b"wdagutility", b"joebox", b"df5serv",
                       b"vmsrvc", b"httpdebugger", b"xenservice", b"idaq", b"any.run")
MINER_HINTS = (b"stratum+", b"xmrig", b"donate-level", b"cryptonight", b"minerd", b"nanominer", b"ethminer",
               b"nbminer", b"lolminer", b"cpuminer", b"minexmr", b"nanopool", b"supportxmr",
               b"moneroocean", b"2miners", b"nicehash")
BIDI_CHARS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200f\u200e")

# Commands a package must not take over through its console scripts.
SHADOWED_COMMANDS = frozenset(
    {"pip", "pip3", "python", "python3", "ls", "sudo", "su", "ssh", "scp", "git", "curl", "wget", "sh", "bash",
     "zsh", "cd", "cat", "cp", "mv", "rm", "chmod", "chown", "ps", "kill", "apt", "apt-get", "yum", "dnf", "brew",
     "npm", "node", "docker", "kubectl", "make", "gcc", "cc", "env", "which", "whoami", "id", "passwd", "login",
     "systemctl", "crontab", "nc", "netstat", "ping", "pwd", "echo", "grep", "find", "tar", "unzip", "open",
     "powershell", "cmd", "explorer", "notepad"}
)

BENIGN_BUILD_TOOLS = re.compile(
    r"""(?ix)^\s*(?:['"\[]\s*)*(?:sys\.executable|python[\d.]*|git|hg|svn|cmake|make|ninja|meson|gcc|g\+\+|cc|c\+\+
    |clang|cl|nvcc|pkg-config|swig|cython|rustc|cargo|go|npm|yarn|node|javac|ldconfig|uname|xcrun|sw_vers|xcode-select
    |ar|ranlib|strip|install_name_tool|otool|ld|nm|patchelf|autoreconf|autoconf|configure|\./configure|sh\s+\./configure
    |pip|protoc|flex|bison|llvm-config|mysql_config|pg_config|gdal-config|nproc|sysctl|lscpu|rpm|dpkg|lsb_release
    |where|which|cmd\s+/c\s+ver|ver|echo|true|false|ccache|icc|icpc|ifort|gfortran|f2py|mpicc|sphinx-build|doxygen
    |brew\s+--prefix|python-config|distcc|cythonize|hipcc|rocm|dot|convert|sed|perl|bash\s+\./|/bin/sh\s+\./)\b"""
)

_PRIVATE_NETS = ("127.", "10.", "192.168.", "0.", "169.254.", "172.16.", "172.17.", "172.18.", "172.19.", "172.2",
                 "172.30.", "172.31.", "255.", "224.")


def public_ip(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.is_global


def infra_kind(host: str) -> str:
    for rx, kind in INFRA_KIND:
        if rx.search(host):
            return kind
    return "suspicious host"


def credential_kind(text: str) -> str:
    for rx, kind in CREDENTIAL_KIND:
        if rx.search(text):
            return kind
    return "credentials"
