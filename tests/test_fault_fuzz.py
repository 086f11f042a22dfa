"""Property-based bad input, by class: every config key and every dataset column.

The keys and columns are enumerated from the schema and the shipped files, not listed here,
so a key or column added later is fuzzed too. The property: the validation layer either
accepts the value or raises :class:`gridcap.errors.GridcapInputError` (exit 2 at the CLI)
whose message names the key (or the file and column) — never another exception type.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import tomllib

import pytest
from fault_support import DATASET_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcap import datasets as gd
from gridcap.config import SECTIONS, parse_config, resolve_study
from gridcap.datasets.loaders import DATA_DIR
from gridcap.errors import ConfigError, GridcapInputError

BASE = tomllib.loads(resolve_study("quickstart").read_text(encoding="utf-8"))
KEYS = [(section, key) for section, keys in SECTIONS.items() for key in keys]

# Everything a TOML value can be, with the nasty corners weighted in.
TOML_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x1b[31m", "[/bold]", "nan", "inf", "1e400", "-1", "x" * 10_000,
                     "shipped", "../../etc/passwd", "a.csv"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.floats()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
)


def _with(section: str, name: str, value: object) -> dict:
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    node = raw
    for part in section.split("."):
        node[part] = dict(node.get(part, {}))
        node = node[part]
    node[name] = value
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=TOML_VALUES)
def test_every_config_key_rejects_bad_values_by_name(key, value):
    (section, spec), dotted = key, f"{key[0]}.{key[1].name}"
    problems: list[str] = []
    try:
        cfg = parse_config(_with(section, spec.name, value), source="fuzz.toml")
    except ConfigError as err:
        problems = err.problems
    if problems:
        assert any(dotted in p for p in problems), (dotted, problems)
        assert all(len(p) < 20_000 for p in problems)
        return
    # accepted: the value must be what the key holds, of its kind
    got = getattr(getattr(cfg, section.replace(".", "_")), spec.name)
    assert isinstance(got, spec.kind) or got is None, (dotted, value, got)


def _numeric_columns(file: str) -> tuple[list[str], list[dict[str, str]], list[str]]:
    with open(DATA_DIR / file, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    numeric = []
    for col in header[1:]:
        try:
            [float(r[col]) for r in rows]
        except ValueError:
            continue
        if not all(r[col].strip().lower() in ("true", "false") for r in rows):
            numeric.append(col)
    return header, rows, numeric


TABLES = {key: _numeric_columns(file) for key, file in DATASET_FILES.items()}
LOADERS = {"regions": gd.read_regions, "technologies": gd.read_technologies,
           "sites": gd.read_mine_sites}
GARBAGE = ["inf", "-inf", "nan", "NaN", "abc", "1e400", "-1e400", "\x1b[2J", "[/]", "1,5",
           "0x10", "--1"]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(sorted(TABLES)), data=st.data())
def test_every_dataset_column_rejects_garbage_by_file_and_column(tmp_path_factory, table, data):
    header, rows, numeric = TABLES[table]
    column = data.draw(st.sampled_from(header), label="column")
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    value = data.draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=12),
                                st.floats().map(repr)), label="value")
    edited = [dict(r) for r in rows]
    edited[row][column] = value
    path = tmp_path_factory.mktemp("csv") / DATASET_FILES[table]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(edited)
    text = ""
    try:
        LOADERS[table](path=path)
    except GridcapInputError as err:
        text = str(err)
    if text:
        assert column in text or header[0] in text or str(path) in text, text
        return
    if column in numeric and value.strip().lower() in ("inf", "-inf", "nan", "abc", "1e400",
                                                       "-1e400", "\x1b[2j", "[/]"):
        pytest.fail(f"{table}.{column} accepted {value!r}")


def test_plausibility_ranges_are_at_least_twice_the_shipped_extremes():
    import re

    import numpy as np

    from gridcap.schema import SCHEMAS

    shipped = {"sites": gd.read_mine_sites()[0], "regions": gd.read_regions()[0],
               "technologies": gd.read_technologies()[0]}
    checked = 0
    for table, ds in shipped.items():
        for var in SCHEMAS[table]:
            for _predicate, expected in var.checks:
                if not expected.startswith("a plausible value"):
                    continue
                lo, hi = (float(x) for x in re.findall(r"\[([^,]+), ([^\]]+)\]", expected)[0])
                values = np.asarray(ds[var.name].values, dtype=float)
                assert values.max() * 2 <= hi, (table, var.name, values.max(), hi)
                assert lo <= values.min() / 2, (table, var.name, values.min(), lo)
                checked += 1
    assert checked >= 15
