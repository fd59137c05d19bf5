"""Typosquat matching: every technique, the popularity rule, and the shipped list."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipwarden.errors import PipwardenError
from pipwarden.typosquat import (
    PopularIndex,
    core,
    describe_edit,
    osa_distance,
    parse_rows,
    popular_index,
    skeleton,
    sound,
    words,
)

ROWS = [
    ("requests", 1_000_000_000),
    ("python-dateutil", 800_000_000),
    ("colorama", 500_000_000),
    ("beautifulsoup4", 300_000_000),
    ("crypto-utils", 100_000_000),
    ("pyyaml", 900_000_000),
    ("pyaml", 5_000_000),
    ("boto3", 1_500_000_000),
    ("boto", 20_000_000),
    ("asn1crypto", 150_000_000),
    ("matplotlib", 200_000_000),
    ("tensorflow", 100_000_000),
    ("six", 700_000_000),
    ("rich-tool", 90_000),  # a popular-but-small project close to a huge one
]


@pytest.fixture(scope="module")
def index() -> PopularIndex:
    return PopularIndex(ROWS)


@pytest.mark.parametrize(
    ("name", "target", "technique"),
    [
        ("reqeusts", "requests", "adjacent characters swapped"),
        ("requets", "requests", "dropped character"),
        ("requestss", "requests", "repeated character"),
        ("requeests", "requests", "repeated character"),
        ("rewuests", "requests", "keyboard-neighbour substitution"),
        ("requestz", "requests", "keyboard-neighbour substitution"),
        ("co1orama", "colorama", "look-alike substitution"),
        ("c0lorama", "colorama", "look-alike substitution"),
        ("matplotlxb", "matplotlib", "one character substituted"),
        ("beautifulsoup-4", "beautifulsoup4", "separator change"),
        ("python_dateutil", None, None),  # the same name, normalised: not a squat
        ("pythondateutil", "python-dateutil", "separator change"),
        ("dateutil-python", "python-dateutil", "words reordered"),
        ("pyrequests", "requests", "'py'/'python' prefix or suffix added or dropped"),
        ("requests-python", "requests", "'py'/'python' prefix or suffix added or dropped"),
        ("colourama", "colorama", "extra character"),
        ("kolorama", "colorama", "one character substituted"),
        ("crypto-utilz", "crypto-utils", "keyboard-neighbour substitution"),
        ("asn2crypto", "asn1crypto", "keyboard-neighbour substitution"),
        ("tensofllow", "tensorflow", "two edits apart"),
        ("utils-crypto", "crypto-utils", "words reordered"),
    ],
)
def test_techniques(index: PopularIndex, name: str, target: str | None, technique: str | None) -> None:
    m = index.match(name)
    if target is None:
        assert m is None
        return
    assert m is not None, name
    assert m.target == target
    assert technique is not None and m.technique.startswith(technique), m.technique
    assert target in m.evidence and f"#{index.rank(target)}" in m.evidence


def test_rn_m_and_homophones() -> None:
    idx = PopularIndex([("modern", 1_000_000), ("phonetic", 1_000_000), ("rnatplot", 1)])
    m = idx.match("rnodern")
    assert m is not None and m.target == "modern"
    assert "look-alike" in m.technique
    m = idx.match("fonetic")
    assert m is not None and m.target == "phonetic"
    assert m.technique == "sounds alike"


@pytest.mark.parametrize("name", ["requests", "boto2", "boto4", "pyaml", "six", "sax", "totally-unrelated", "numpy"])
def test_not_flagged(index: PopularIndex, name: str) -> None:
    # itself; version-suffix digits; a popular project not 1000x below; short names; unrelated
    assert index.match(name) is None


def test_popular_ratio(index: PopularIndex) -> None:
    # pyaml (5M) resembles pyyaml (900M): 180x, under the 1000x rule -> not a squat
    assert index.match("pyaml") is None
    # rich-tool is popular but 10,000x below... nothing it imitates: still none
    assert index.match("rich-tool") is None
    small = PopularIndex([*ROWS, ("requsts", 500_000)])
    m = small.match("requsts")  # 2000x fewer downloads than requests
    assert m is not None and m.target == "requests" and m.name_downloads == 500_000


def test_picks_most_popular_target() -> None:
    idx = PopularIndex([("flask", 100), ("flash", 10_000)])
    m = idx.match("flaskh")
    assert m is not None and m.target == "flash"


def test_keys() -> None:
    assert skeleton("Re-qquests_") == "requests"
    assert skeleton("c1ick") == skeleton("click") == skeleton("dick")
    assert skeleton("rnodern") == skeleton("modern")
    assert sound("krypto") == sound("crypto")
    assert core("python-requests") == core("pyrequests") == core("requests-py") == "requests"
    assert core("pyyaml") == "yaml"
    assert words("b-a") == words("a_b") == "a-b"
    assert words("single") is None
    assert osa_distance("ab", "ba") == 1
    assert osa_distance("requests", "reqeusts") == 1
    assert osa_distance("kitten", "sitting", limit=5) == 3
    assert describe_edit("reqeusts", "requests").startswith("adjacent")


def test_parse_rows_rejects_bad_documents() -> None:
    with pytest.raises(PipwardenError):
        parse_rows({"nope": []})
    with pytest.raises(PipwardenError):
        parse_rows({"rows": [{"project": 3, "download_count": "x"}]})
    assert parse_rows({"rows": [{"project": "a", "download_count": 1}, "junk"]}) == [("a", 1)]


def test_shipped_list() -> None:
    idx = popular_index()
    assert len(idx) >= 10_000
    assert "requests" in idx and idx.rank("boto3") == 1
    m = idx.match("reqeusts")
    assert m is not None and m.target == "requests"
    assert idx.match("requests") is None
    assert idx.match("django") is None


def test_sqlite_key_store_answers_like_the_in_memory_keys(tmp_path: Path) -> None:
    """The key store written by one process gives later processes exactly the same candidates."""
    from pipwarden.typosquat import PopularIndex, load_document, parse_rows

    rows = parse_rows(load_document(None)[0])
    memory = PopularIndex(rows)
    first = PopularIndex(rows, store_dir=tmp_path)
    first.prepare()  # builds in memory and writes the store
    assert list((tmp_path / "typosquat").glob("*.sqlite"))
    second = PopularIndex(rows, store_dir=tmp_path)
    second.prepare()
    assert second._store is not None  # answered from SQLite, nothing built in memory
    assert not second._exact
    probes = ["reqeusts", "requestz", "python-dateutil", "dateutil-python", "numpy", "nunpy", "beautifulsoup",
              "urlib3", "pyyml", "colourama", "tensorfow", "scikitlearn", "django-rest-framwork", "x"]
    probes += memory.names()[:2000:40]
    for name in probes:
        assert second.candidates(name) == memory.candidates(name), name
    assert second.match("reqeusts") is not None and second.match("reqeusts").target == "requests"  # type: ignore[union-attr]
