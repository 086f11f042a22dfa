"""Bad input and hostile text end in exit 2 with a message naming the input, the value and
what was expected — never a traceback, never a false failure after results were written.

Each case is driven through ``gridcap.cli.main`` in-process (the same code path as the
console script, minus the interpreter start), mostly through ``validate`` and ``run``'s checks
that come before any work.
"""

from __future__ import annotations

import os
import shutil

import pytest
from fault_support import edit_csv, write_study

from gridcap.cli import EXIT_BAD_INPUT, EXIT_OK, display, main, plain_message

# the wide console and the tiny study are shared fixtures (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("wide_console")


@pytest.fixture(scope="module")
def run_out(tiny_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", str(tiny_study), "--out", str(out), "-q"]) == EXIT_OK
    return out


def _err(capsys) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.err + captured.out).split())  # undo the console's wrapping


def _bad(capsys, *argv: str) -> str:
    assert main(list(argv)) == EXIT_BAD_INPUT, _err(capsys)
    err = _err(capsys)
    assert "Traceback" not in err and "internal error" not in err
    return err


# --------------------------------------------------------------------------- study files


def test_non_utf8_study_is_exit_2_naming_the_byte(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(write_study(tmp_path).read_text().replace("tiny", "Zürich").encode("latin-1"))
    err = _bad(capsys, "validate", str(path))
    assert "not UTF-8" in err and "line 3" in err and "b'\\xfc'" in err


def test_study_with_a_byte_order_mark_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + write_study(tmp_path).read_bytes())
    assert main(["validate", str(path)]) == EXIT_OK
    assert "OK" in _err(capsys)


def test_relative_dataset_path_is_named_with_its_key(tmp_path, capsys):
    path = write_study(tmp_path / "s")
    path.write_text(path.read_text().replace('sites = "shipped"', 'sites = "data/mine.csv"'))
    err = _bad(capsys, "validate", str(path))
    assert "datasets.sites" in err and "no such file" in err
    assert str(tmp_path / "s" / "data" / "mine.csv") in err  # resolved from the study folder


def test_start_year_past_the_data_names_the_key(tmp_path, capsys):
    path = write_study(tmp_path)
    path.write_text(path.read_text().replace("start_year = 2026", "start_year = 2090"))
    err = _bad(capsys, "validate", str(path))
    assert "study.start_year = 2090" in err and "no AI demand data" in err


# --------------------------------------------------------------------------- dataset values


@pytest.mark.parametrize(("table", "row", "column", "value", "expect"), [
    ("sites", "corz_denton", "interconnection_mw", "inf", "expected a finite number"),
    ("sites", "corz_denton", "mining_load_mw", "nan", "expected a finite number"),
    ("sites", "corz_denton", "interconnection_mw", "394000", "kW instead of MW"),
    ("sites", "riot_rockdale", "hashprice_breakeven_usd_per_mwh", "0.099", "$/kWh"),
    ("regions", "ERCOT", "timezone", "America/Dallas", "IANA time zone"),
    ("regions", "ERCOT", "peak_load_mw", "-inf", "expected a finite number"),
    ("technologies", "gas_ct", "capex_usd_per_kw", "1e300", "$/MW"),
])
def test_bad_dataset_value_is_caught_at_validate_naming_file_and_column(
        tmp_path, capsys, table, row, column, value, expect):
    path = write_study(tmp_path, user_files=(table,))
    from fault_support import DATASET_FILES

    edit_csv(tmp_path / DATASET_FILES[table], row, column, value)
    err = _bad(capsys, "validate", str(path))
    assert f"datasets.{table}" in err and column in err and expect in err


# --------------------------------------------------------------------------- output folder


def test_out_that_is_a_file_or_holds_the_wrong_kinds(tiny_study, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert "is a file" in _bad(capsys, "run", str(tiny_study), "--out", str(target), "-q")
    for name, make in (("results.nc", os.mkdir), ("checkpoint", lambda p: p.write_text("x"))):
        out = tmp_path / f"wrong-{name}"
        out.mkdir()
        make(out / name)
        err = _bad(capsys, "run", str(tiny_study), "--out", str(out), "-q")
        assert f"holds '{name}'" in err
    assert "is a file" in _bad(capsys, "sweep", str(tiny_study), "--param",
                               "finance.senior.rate=0.05", "--out", str(target), "-q")


def test_read_only_out_is_exit_2(tiny_study, tmp_path, capsys, monkeypatch):
    import gridcap.io as gio

    monkeypatch.setattr(gio.os, "access", lambda path, mode: False)  # root ignores chmod
    err = _bad(capsys, "run", str(tiny_study), "--out", str(tmp_path / "ro"), "-q")
    assert "not writable" in err


def test_report_out_that_is_a_file_and_variant_on_a_single_run(run_out, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert "is a file" in _bad(capsys, "report", str(run_out), "--out", str(target))
    err = _bad(capsys, "report", str(run_out), "--out", str(tmp_path / "r"), "--variant", "2")
    assert "--variant 2" in err and "gridcap sweep" in err


# --------------------------------------------------------------------------- dask flags


@pytest.mark.parametrize("address", ["foo:::", "tcp://", "http://host:8786",
                                     "tcp://host:notaport", "tcp://h:99999"])
def test_malformed_dask_address_is_exit_2_before_any_work(tiny_study, tmp_path, capsys, address):
    out = tmp_path / "out"
    err = _bad(capsys, "run", str(tiny_study), "--out", str(out), "--dask", address, "-q")
    assert "--dask" in err and "HOST:PORT" in err
    assert not out.exists()


def test_dask_tls_flags(tiny_study, tmp_path, capsys):
    pytest.importorskip("distributed")
    from gridcap.batch import dask_security

    ca, cert = tmp_path / "ca.pem", tmp_path / "client.pem"
    err = _bad(capsys, "run", str(tiny_study), "--dask", "tls://h:8786", "--dask-tls-ca", str(ca),
               "--dask-tls-cert", str(cert), "-q")
    assert "--dask-tls-ca" in err and "no readable file" in err
    ca.write_text("CA")
    cert.write_text("CERT")
    tls = ["--dask-tls-ca", str(ca), "--dask-tls-cert", str(cert)]
    assert "tls:// address" in _bad(capsys, "run", str(tiny_study), "--dask", "tcp://h:8786", *tls)
    assert "expected --dask tls://" in _bad(capsys, "run", str(tiny_study), *tls)
    assert "--dask-tls-cert" in _bad(capsys, "run", str(tiny_study), "--dask", "tls://h:8786",
                                     "--dask-tls-ca", str(ca))
    security = dask_security(str(ca), str(cert))
    assert security.tls_ca_file == str(ca) and security.tls_client_cert == str(cert)
    assert security.require_encryption
    assert dask_security() is None  # Dask's own configuration applies


# --------------------------------------------------------------------------- hostile text


def test_display_caps_escapes_and_neutralises():
    shown = display("[bold red]x[/]\x1b]0;pwned\x07\u202e" + "y" * 1_000_000)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b" in shown and "\\u202e" in shown
    assert len(shown) < 300 and "more characters" in shown
    assert "\\[bold red]" in shown  # markup escaped, shown literally
    message = plain_message("line\x1b[2J\n" + "z" * 100_000)
    assert "\x1b" not in message and len(message) < 3_000


def test_hostile_study_name_and_out_path_run_to_exit_0(tmp_path, capsys):
    name = "[/bold][red]x[/] \\u001b[2J\\u001b]0;owned\\u0007 " + "n" * 1_000_000
    path = write_study(tmp_path)
    path.write_text(path.read_text().replace('name = "tiny"', f'name = "{name}"'))
    out = tmp_path / "[/out]" / "[bold]"
    assert main(["run", str(path), "--out", str(out), "-q"]) == EXIT_OK, _err(capsys)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "\x1b[2J" not in text and "\x07" not in text
    assert len(text) < 50_000  # the 1 MB name is cut, not echoed
    assert (out / "results.nc").is_file()
    assert "[/out]" in " ".join(captured.out.split()).replace(" ", "")
    shutil.rmtree(tmp_path / "[/out]")


# --------------------------------------------------------------------------- validate == run


def test_validate_checks_the_backend_like_run(tmp_path, capsys):
    from gridcap.kernels import available_backends

    if "cupy" in available_backends():
        pytest.skip("cupy is available here")
    path = write_study(tmp_path)
    path.write_text(path.read_text().replace('backend = "numba-cpu"', 'backend = "cupy"'))
    for argv in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "o")]):
        err = _bad(capsys, *argv)
        assert "study.backend" in err and "cupy" in err
    assert not (tmp_path / "o" / "checkpoint").exists()


def test_sweep_checks_every_variant_input_before_any_work(tiny_study, tmp_path, capsys):
    out = tmp_path / "sweep"
    err = _bad(capsys, "sweep", str(tiny_study), "--param", "datasets.sites=shipped,missing.csv",
               "--out", str(out), "-q")
    assert "datasets.sites = 'missing.csv'" in err and "no such file" in err
    assert not (out / "variants.zarr").exists() and not (out / "montecarlo").exists()
