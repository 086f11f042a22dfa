"""Study configuration: a TOML file describing one study, validated against a declared schema.

The schema is data (:data:`SECTIONS`): each section lists its keys with type, default, allowed
range and meaning, so the validator, the docs (``gridcap validate --schema``) and the error
messages all come from one place. Unknown sections or keys are errors, not silently ignored.
Every problem is reported at once, each naming the key path, the value and what is allowed.

Example
-------
>>> from gridcap.config import load_config
>>> cfg = load_config("quickstart")            # a shipped study, or a path to a TOML file
>>> cfg.monte_carlo.scenarios, cfg.optimizer.cvar_alpha
(32, 0.95)
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from gridcap.datasets.fleet import FleetOptions
from gridcap.errors import ConfigError
from gridcap.kernels.compute import ComputeAssumptions
from gridcap.kernels.contracts import ContractTerms
from gridcap.kernels.options import BACKEND_CHOICES, SimulateOptions
from gridcap.kernels.periods import PeriodSampling, allowed_hours_summary
from gridcap.optimizer.financing.options import (
    FinanceOptions,
    MezzanineTerms,
    ProjectTerms,
    SeniorTerms,
)
from gridcap.optimizer.planning.flexible_ai import FlexibleAIOptions
from gridcap.optimizer.planning.siting import PlanOptions
from gridcap.params import param_table

BACKENDS = BACKEND_CHOICES  # owner: gridcap.kernels.options

REQUIRED = object()  # sentinel default: the key must be given


@dataclass(frozen=True)
class Key:
    """One key of a config section.

    Parameters
    ----------
    name : str
        Key name in the TOML section.
    kind : type
        Python type expected (``int``, ``float``, ``str``, ``bool``, ``list``).
    default : object
        Default value, or :data:`REQUIRED`.
    check : callable, optional
        Predicate on the value; when false, ``expected`` is reported.
    expected : str
        What a valid value is, in plain words (used in error messages).
    doc : str
        Meaning and unit.
    item_kind : type, optional
        For lists, the type of each item.
    source : str
        Where the default comes from (keys generated from a domain parameter table).
    """

    name: str
    kind: type
    default: Any
    check: Callable[[Any], bool] | None = None
    expected: str = ""
    doc: str = ""
    item_kind: type | None = None
    source: str = ""


def _between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def check(v: float) -> bool:
        above = v > lo if lo_open else v >= lo
        below = v < hi if hi_open else v <= hi
        return above and below and math.isfinite(v)

    return check


def _range_text(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> str:
    return f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def _num(name, kind, default, lo, hi, doc, lo_open=False, hi_open=False) -> Key:
    return Key(
        name,
        kind,
        default,
        _between(lo, hi, lo_open, hi_open),
        _range_text(lo, hi, lo_open, hi_open),
        doc,
    )


def _choice(name: str, default: str, choices: tuple[str, ...], doc: str) -> Key:
    return Key(name, str, default, lambda v: v in choices, f"one of {list(choices)}", doc)


def keys_from(table: type, names: tuple[str, ...] | None = None) -> tuple[Key, ...]:
    """Config keys generated from a domain parameter table (the one owner of the defaults).

    Every field of ``table`` declared with :func:`gridcap.params.param` and ``config=True``
    becomes a key: same name, default, range and meaning (``doc [unit]``), and its source.

    Parameters
    ----------
    table : type
        A dataclass such as :class:`gridcap.optimizer.PlanOptions`.
    names : tuple of str, optional
        Only these fields, in this order (a table whose keys live in several sections).

    Returns
    -------
    tuple of Key
    """
    keys = []
    rows = {p.name: p for p in param_table(table, config_only=True)}
    for p in rows.values() if names is None else [rows[n] for n in names]:
        doc = f"{p.doc} [{p.unit}]" if p.unit else p.doc
        keys.append(Key(p.name, p.kind, p.default, p.ok, p.expected(), doc, source=p.source))
    return tuple(keys)


SECTIONS: dict[str, tuple[Key, ...]] = {
    "study": (
        Key("name", str, REQUIRED, lambda v: bool(v.strip()), "a non-empty name", "study name"),
        Key("description", str, "", doc="one-paragraph description"),
        _num("start_year", int, REQUIRED, 2000, 2100, "first planning year [year]"),
        _num("horizon_years", int, REQUIRED, 1, 40, "number of planning years [yr]"),
        Key(
            "regions",
            list,
            REQUIRED,
            lambda v: len(v) > 0 and len(set(v)) == len(v),
            "a non-empty list of distinct region ids",
            "grid regions in the study",
            item_kind=str,
        ),
        # owner: gridcap.kernels.options.SimulateOptions
        *keys_from(SimulateOptions, ("seed", "backend")),
    ),
    "monte_carlo": (
        *keys_from(SimulateOptions, ("scenarios",)),
        *(
            # the range check is the table's; the message lists the exact allowed values
            dataclasses.replace(k, expected=allowed_hours_summary("monte_carlo.representative"))
            if k.name == "hours" else k
            for k in keys_from(PeriodSampling)
        ),
        _num("batch_size", int, 64, 1, 1_000_000, "scenarios per batch (checkpoint chunk)"),
    ),
    "datasets": (
        Key("regions", str, "shipped", doc="'shipped' or a path to a regions CSV"),
        Key("technologies", str, "shipped", doc="'shipped' or a path to a technologies CSV"),
        Key("sites", str, "shipped", doc="'shipped' or a path to a mine-sites CSV"),
        # the user's own hourly series (gridcap.datasets.series; README "Your own data")
        Key("load", str, "synthetic",
            doc="'synthetic' or a CSV/NetCDF of hourly load per region [MW] (columns: time "
                "or hour, then region ids) replacing the simulated load of those regions"),
        Key("solar", str, "synthetic",
            doc="'synthetic' or a CSV/NetCDF of hourly utility-PV output per unit of "
                "capacity per region [1]"),
        Key("wind", str, "synthetic",
            doc="'synthetic' or a CSV/NetCDF of hourly wind output per unit of capacity "
                "per region [1]"),
        Key("technology_ids", list, [], doc="subset of technologies (empty: all)", item_kind=str),
        Key(
            "site_ids",
            list,
            [],
            doc="subset of mine sites (empty: all in the regions)",
            item_kind=str,
        ),
        _num("max_sites", int, 0, 0, 100_000, "keep at most this many sites (0: no limit)"),
    ),
    # owner: gridcap.datasets.fleet.FleetOptions
    "fleet": keys_from(FleetOptions),
    # owner: gridcap.optimizer.PlanOptions (gridcap/optimizer/planning/siting.py)
    "optimizer": keys_from(PlanOptions),
    # owner: gridcap.optimizer.financing.options.ProjectTerms
    "finance": keys_from(ProjectTerms),
    # owner: gridcap.kernels.compute.ComputeAssumptions
    "compute": keys_from(ComputeAssumptions),
    "flexible_ai": (
        Key("enabled", bool, False,
            doc="offer flexible (curtailable) interconnection of AI load in the planner"),
        Key("headroom", bool, False,
            doc="compute the curtailment-enabled headroom of the Monte Carlo's load years in "
                "'gridcap run' (results headroom__*; report curve)"),
        Key("headroom_limits_pct", list, [0.25, 0.5, 1.0, 5.0],
            lambda v: len(v) > 0 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                         and 0 < x < 100 for x in v),
            "a non-empty list of percentages in (0, 100)",
            "curtailment limits of the headroom analysis [% of annual energy]",
            source="Norris et al. (2025), Rethinking Load Growth, Duke University: 0.25, 0.5, "
                   "1 and 5 %"),
        *keys_from(FlexibleAIOptions),
    ),
    # owners: gridcap.optimizer.financing.options.SeniorTerms / MezzanineTerms
    "finance.senior": keys_from(SeniorTerms),
    "finance.mezzanine": keys_from(MezzanineTerms),
}

SECTION_DOCS = {
    "study": "what the study is: regions, years, seed, backend",
    "monte_carlo": "scenario engine size",
    "datasets": "which input data to use",
    "fleet": "synthetic DER fleet",
    "optimizer": "siting/build-plan model options",
    "finance": "financing terms shared by all tranches",
    "compute": "kWh-to-token chain assumptions",
    "flexible_ai": "flexible AI load: curtailment-enabled headroom and flexible interconnection",
    "finance.senior": "senior tranche terms",
    "finance.mezzanine": "mezzanine tranche terms",
}


def _constant(value: Any) -> Callable[[], Any]:
    """A default factory returning ``value`` (lists must not be shared between configs)."""

    def factory() -> Any:
        return list(value) if isinstance(value, list) else value

    return factory


def _section_class(section: str) -> type:
    fields_: list[Any] = []
    for key in SECTIONS[section]:
        if key.default is REQUIRED:
            fields_.append((key.name, Any))
        else:
            fields_.append((key.name, Any, field(default_factory=_constant(key.default))))
    # Required fields first (dataclass rule), defaults after.
    fields_.sort(key=lambda f: len(f) == 3)
    cls_name = "".join(p.capitalize() for p in section.replace(".", "_").split("_")) + "Config"
    return dataclasses.make_dataclass(cls_name, fields_, frozen=True)


SECTION_CLASSES = {name: _section_class(name) for name in SECTIONS}


@dataclass(frozen=True)
class StudyConfig:
    """A validated study.

    Attributes are one frozen object per section (``cfg.study.seed``,
    ``cfg.finance_senior.rate`` …). ``source`` is where it came from.
    """

    study: Any
    monte_carlo: Any
    datasets: Any
    fleet: Any
    optimizer: Any
    compute: Any
    finance: Any
    finance_senior: Any
    finance_mezzanine: Any
    flexible_ai: Any
    source: str = "<dict>"
    #: ``[contracts.<site_id>]`` tables: per-site contract terms (site id -> ContractTerms)
    contracts: Mapping[str, ContractTerms] = field(default_factory=dict)

    @property
    def years(self) -> list[int]:
        """Planning years [year]."""
        return list(range(self.study.start_year, self.study.start_year + self.study.horizon_years))

    def plan_options(self) -> PlanOptions:
        """The planner's options for this study: every ``[optimizer]`` key, seed = study seed.

        ``plan(inputs, outcomes, cfg.plan_options())`` in a notebook solves the same model as
        ``gridcap run`` on the same study.
        """
        keys = {k.name: getattr(self.optimizer, k.name) for k in SECTIONS["optimizer"]}
        return dataclasses.replace(PlanOptions(), **keys, seed=self.study.seed,
                                   flexible_ai=self.flexible_ai_options())

    def flexible_ai_options(self) -> FlexibleAIOptions | None:
        """The ``[flexible_ai]`` table as the planner's options (``None`` unless enabled)."""
        if not self.flexible_ai.enabled:
            return None
        names = {p.name for p in param_table(FlexibleAIOptions, config_only=True)}
        return FlexibleAIOptions(**{n: getattr(self.flexible_ai, n) for n in names})

    def simulate_options(self) -> SimulateOptions:
        """The Monte Carlo stage's options: scenarios, seed, backend, periods, compute."""
        return SimulateOptions(
            scenarios=self.monte_carlo.scenarios,
            seed=self.study.seed,
            backend=self.study.backend,
            periods=PeriodSampling(self.monte_carlo.hours, self.monte_carlo.representative),
            compute=self.compute_assumptions(),
            # one payment: the planner's cost of a contracted kW is the pools' credit
            flex_payment_usd_per_kw_yr=self.optimizer.flex_cost_usd_per_kw_yr,
        )

    def finance_options(self) -> FinanceOptions:
        """The finance stage's options for this study (no study key sets them yet)."""
        return FinanceOptions()

    def compute_assumptions(self) -> ComputeAssumptions:
        """The ``[compute]`` table as the domain's :class:`ComputeAssumptions`."""
        keys = {k.name: getattr(self.compute, k.name) for k in SECTIONS["compute"]}
        return ComputeAssumptions(**keys)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The config as nested plain dicts, TOML-shaped (``finance.senior`` nested)."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            values = {k: v for k, v in  # TOML has no null: a None key is left out
                      dataclasses.asdict(getattr(self, section.replace(".", "_"))).items()
                      if v is not None}
            if "." in section:
                parent, child = section.split(".")
                out.setdefault(parent, {})[child] = values
            else:
                out.setdefault(section, {}).update(values)
        if self.contracts:
            out["contracts"] = {site: t.site_variables() for site, t in self.contracts.items()}
        return out

    def site_contract_terms(self) -> dict[str, dict[str, Any]]:
        """``[contracts.<site_id>]`` as site id -> {term name: value} (only the keys set)."""
        return {site: t.site_variables() for site, t in self.contracts.items()}

    def with_overrides(self, overrides: Mapping[str, Any]) -> StudyConfig:
        """Return a new validated config with dotted keys replaced.

        Parameters
        ----------
        overrides : mapping
            ``{"optimizer.cvar_lambda": 0.5, "finance.senior.rate": 0.07}``; per-site contract
            terms as ``"contracts.<site_id>.<term>"`` (checked like the TOML tables).

        Raises
        ------
        ConfigError
            If a key is unknown or a value is out of range.
        """
        raw = self.to_dict()
        problems = []
        for dotted, value in overrides.items():
            *path, leaf = dotted.split(".")
            section = ".".join(path)
            if len(path) == 2 and path[0] == "contracts":  # contracts.<site_id>.<term>
                raw.setdefault("contracts", {}).setdefault(path[1], {})[leaf] = value
                continue
            if section not in SECTIONS or leaf not in {k.name for k in SECTIONS[section]}:
                problems.append(f"{dotted}: unknown key; known keys are {sorted(all_keys())}")
                continue
            node = raw
            for part in path:
                node = node[part]
            node[leaf] = value
        if problems:
            raise ConfigError(f"{self.source} (overrides)", problems)
        return parse_config(raw, source=f"{self.source} (overrides)")


def section_defaults(section: str) -> dict[str, Any]:
    """Default value of every optional key of a config section (one source for all stages).

    Parameters
    ----------
    section : str
        Section name, e.g. ``"compute"``.

    Returns
    -------
    dict
        Key name → default, for the keys that have one.
    """
    if section not in SECTIONS:
        raise KeyError(f"section = {section!r}: expected one of {sorted(SECTIONS)}")
    return {k.name: k.default for k in SECTIONS[section] if k.default is not REQUIRED}


def all_keys() -> list[str]:
    """Every valid dotted key path, e.g. ``optimizer.cvar_alpha``."""
    return [f"{section}.{key.name}" for section, keys in SECTIONS.items() for key in keys]


def _coerce(path: str, key: Key, value: Any, problems: list[str]) -> Any:
    """Type-check one value; ints are accepted where floats are expected."""
    if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if key.kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, key.kind) or (key.kind is not bool and isinstance(value, bool)):
        problems.append(
            f"{path} = {value!r}: expected {key.kind.__name__}"
            + (f" ({key.expected})" if key.expected else "")
        )
        return None
    if key.item_kind is not None:
        items = cast(list[Any], value)  # checked above: value is a list
        bad = [v for v in items if not isinstance(v, key.item_kind)]
        if bad:
            problems.append(f"{path} = {value!r}: expected a list of {key.item_kind.__name__}")
            return None
    if key.check is not None and not key.check(value):
        problems.append(f"{path} = {value!r}: expected {key.expected}")
        return None
    return value


def _parse_section(section: str, raw: Mapping[str, Any], problems: list[str]) -> Any:
    keys = {k.name: k for k in SECTIONS[section]}
    nested = {s.split(".", 1)[1] for s in SECTIONS if s.startswith(section + ".")}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in nested:
            continue
        if name not in keys:
            problems.append(
                f"{section}.{name}: unknown key; allowed keys in [{section}] are {sorted(keys)}"
            )
            continue
        values[name] = _coerce(f"{section}.{name}", keys[name], value, problems)
    for name, key in keys.items():
        if name not in raw:
            if key.default is REQUIRED:
                problems.append(
                    f"{section}.{name} is missing: expected {key.doc}"
                    + (f" ({key.expected})" if key.expected else "")
                )
                values[name] = None
            else:
                values[name] = key.default
    return SECTION_CLASSES[section](**values)


def parse_config(raw: Mapping[str, Any], source: str = "<dict>") -> StudyConfig:
    """Validate a TOML-shaped mapping and return a :class:`StudyConfig`.

    Parameters
    ----------
    raw : mapping
        Parsed TOML (sections as nested tables).
    source : str
        Where it came from, for messages.

    Raises
    ------
    ConfigError
        Listing every problem found, each with its key path, value and allowed range.
    """
    problems: list[str] = []
    top_level = {s.split(".")[0] for s in SECTIONS} | {"contracts"}
    for name, value in raw.items():
        if name not in top_level:
            problems.append(f"[{name}]: unknown section; allowed sections are {sorted(top_level)}")
        elif not isinstance(value, Mapping):
            problems.append(f"{name} = {value!r}: expected a [{name}] table")
    sections = {}
    for section in SECTIONS:
        node: Any = raw
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        if not isinstance(node, Mapping):
            node = {}
        sections[section.replace(".", "_")] = _parse_section(section, node, problems)
    contracts = _parse_contracts(raw.get("contracts", {}), problems)
    cfg = StudyConfig(**sections, source=source, contracts=contracts)
    problems += _cross_checks(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


CONTRACT_KEYS: tuple[Key, ...] = keys_from(ContractTerms)


def _parse_contracts(raw: Any, problems: list[str]) -> dict[str, ContractTerms]:
    """``[contracts.<site_id>]`` tables -> ContractTerms per site (problems name each key).

    Whether a site id exists is checked when the study's sites are read (the sites table is
    data, not config): :func:`gridcap.pipeline.load_inputs` names the unknown id.
    """
    if not isinstance(raw, Mapping):
        return {}
    keys = {k.name: k for k in CONTRACT_KEYS}
    out: dict[str, ContractTerms] = {}
    for site, table in raw.items():
        if not isinstance(table, Mapping):
            problems.append(f"contracts.{site} = {table!r}: expected a [contracts.{site}] "
                            f"table of contract terms ({sorted(keys)})")
            continue
        values: dict[str, Any] = {}
        for name, value in table.items():
            path = f"contracts.{site}.{name}"
            if name not in keys:
                problems.append(f"{path}: unknown key; allowed keys in [contracts.<site_id>] "
                                f"are {sorted(keys)}")
                continue
            v = _coerce(path, keys[name], value, problems)
            if v is not None:
                values[name] = v
        terms = ContractTerms(**values)
        problems += [p for p in terms.problems(f"contracts.{site}") if "rating" in p]
        out[str(site)] = terms
    return out


def _cross_checks(cfg: StudyConfig) -> list[str]:
    """Rules that involve several keys (skipped where a key already failed on its own)."""
    problems: list[str] = []
    # tenors are not bounded by study.horizon_years: the finance horizon runs to the end of
    # the sites' contracts (issue 13); finance() checks each tenor against it
    kept, total = cfg.optimizer.scenarios_in_model, cfg.monte_carlo.scenarios
    if kept is not None and total is not None and kept > total:
        problems.append(
            f"optimizer.scenarios_in_model = {cfg.optimizer.scenarios_in_model}: expected at "
            f"most monte_carlo.scenarios = {cfg.monte_carlo.scenarios}"
        )
    hours, rep = cfg.monte_carlo.hours, cfg.monte_carlo.representative
    if hours is not None and rep is not None:
        problems += PeriodSampling(hours, rep).problems("monte_carlo")
    ticket, unit = cfg.finance.min_ticket_usd, cfg.finance.unit_size_usd
    if ticket is not None and unit is not None and ticket < unit:
        problems.append(
            f"finance.min_ticket_usd = {cfg.finance.min_ticket_usd:g}: expected at least "
            f"finance.unit_size_usd = {cfg.finance.unit_size_usd:g}"
        )
    return problems


def resolve_study(study: str | Path) -> Path:
    """Turn a TOML path or a shipped study name into a path.

    Raises
    ------
    ConfigError
        If ``study`` is neither an existing file nor a shipped study name.
    """
    path = Path(study)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(str(study), [f"study file {str(study)!r} does not exist"])
        return path
    shipped = Path(__file__).resolve().parent.parent / "datasets" / "studies"
    try:  # installed (non-editable) package: the studies live next to gridcap.datasets
        import gridcap.datasets as gd

        shipped = Path(gd.__file__).resolve().parent / "studies"
    except ImportError:  # pragma: no cover - datasets always ships with gridcap
        pass
    candidate = shipped / f"{study}.toml"
    if candidate.is_file():
        return candidate
    names = sorted(p.stem for p in shipped.glob("*.toml"))
    raise ConfigError(
        str(study),
        [
            f"study {str(study)!r} is neither a TOML file nor a shipped study; "
            f"shipped studies are {names}"
        ],
    )


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a study file: UTF-8 (a leading byte-order mark is accepted and dropped)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(str(path), [f"cannot read the study file ({err.strerror or err})"]) \
            from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(str(path), [
            f"byte {data[err.start:err.start + 1]!r} at offset {err.start} (line {line}) is not "
            "UTF-8: expected a UTF-8 text file (TOML files are UTF-8; re-save it as UTF-8)"
        ]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [f"TOML syntax error: {err}"]) from None


def _resolve_dataset_paths(raw: dict[str, Any], base: Path) -> None:
    """Make relative file paths of the ``[datasets]`` table relative to the study's folder.

    A value counts as a path when it is a string other than ``"shipped"`` with a file suffix
    (``sites.csv``); absolute paths and other values are left as they are.
    """
    table = raw.get("datasets")
    if not isinstance(table, dict):
        return
    for name, value in table.items():
        if not isinstance(value, str) or value == "shipped" or not Path(value).suffix:
            continue
        expanded = Path(value).expanduser()
        table[name] = str(expanded if expanded.is_absolute() else base / expanded)


def load_config(study: str | Path, overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """Read, validate and return a study config.

    Parameters
    ----------
    study : str or Path
        Path to a TOML file, or the name of a shipped study (``"quickstart"``).
    overrides : mapping, optional
        Dotted-key overrides applied before validation (e.g. from CLI flags).

    Raises
    ------
    ConfigError
        Listing every problem (syntax, unknown keys, types, ranges).
    """
    path = resolve_study(study)
    raw = _read_toml(path)
    _resolve_dataset_paths(raw, path.parent)
    cfg = parse_config(raw, source=str(path))
    return cfg.with_overrides(overrides) if overrides else cfg


def schema_markdown() -> str:
    """The config schema as a Markdown table (for docs and ``gridcap validate --schema``)."""
    lines = [
        "| key | type | default | allowed | meaning | source |",
        "|---|---|---|---|---|---|",
    ]
    for section, keys in SECTIONS.items():
        for key in keys:
            default = "required" if key.default is REQUIRED else repr(key.default)
            lines.append(
                f"| `{section}.{key.name}` | {key.kind.__name__} | {default} | "
                f"{key.expected or '-'} | {key.doc} | {key.source or '-'} |"
            )
    for key in CONTRACT_KEYS:
        lines.append(
            f"| `contracts.<site_id>.{key.name}` | {key.kind.__name__} | unset | "
            f"{key.expected or '-'} | {key.doc} | {key.source or '-'} |"
        )
    return "\n".join(lines)
