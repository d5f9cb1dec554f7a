"""The simulated broker's symbol catalogue and MetaTrader's ``group`` filter.

The 7 majors, all 21 crosses of EUR/GBP/AUD/NZD/CAD/CHF/JPY, gold and ten Deriv-style synthetic
indices. Specs follow what a retail MT5 broker publishes: 5-digit pairs (3 for JPY), 100,000
units per lot, 0.01-lot steps, instant execution with FOK filling (the captured EURJPY spec of
the reference), and Deriv-style synthetic indices (CFDLEVERAGE, market execution, 24/7).
Synthetic contract specs are third-party figures (reference section 7): replace them with a
real ``symbol_info()`` capture when one is available.

Besides MetaTrader's fields a spec carries what the price model needs: the price level on
2024-01-01 (``ref_price``; crosses follow their USD legs instead), the annualised volatility
and the typical spread. Swaps are indicative retail figures in points per lot.

**Symbol variants.** Real brokers list one instrument several times, under suffixed names for
account types or execution modes (``EURUSD.pro``, ``EURUSDm``, ``EURUSD.ecn``).
``Catalogue(variants=(".pro", "m"))`` adds, after the 39 symbols, every symbol again under
each suffix, in suffix order: the same contract spec, outside the default Market Watch, with
``market`` naming the symbol whose prices it quotes. The feeds resolve ``market``
(:class:`~.feed.VariantFeed`), so a variant quotes exactly its market's ticks and bars, and
300 symbols cost about what 39 cost to generate. Currency conversions and crosses
(:meth:`Catalogue.pair`) use the base symbols only. A suffix must be non-empty, without
whitespace, commas or ``group`` wildcards (``*?[]!``), unique, and give no name already listed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from fnmatch import fnmatchcase

from forexbot.connectors.mt5_constants import (
    SYMBOL_CALC_MODE_CFDLEVERAGE,
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_SWAP_MODE_POINTS,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_MODE_FULL,
)

from .errors import SimulatorError

#: ``filling_mode`` bits (MetaTrader's SYMBOL_FILLING_FOK/IOC, deliberately not exported).
FILLING_FOK_BIT = 1
FILLING_IOC_BIT = 2


class SymbolKind(Enum):
    """Which price model and trading schedule a symbol follows."""

    FOREX = "forex"  # Monday 00:00 - Friday 24:00 server time; session seasonality
    VOLATILITY = "volatility"  # driftless GBM, one tick every 2 s, 24/7
    BOOM = "boom"  # slow drift down, rare upward spikes, 1 tick/s, 24/7
    CRASH = "crash"  # slow drift up, rare downward spikes, 1 tick/s, 24/7
    STEP = "step"  # +/-0.1 per second with p = 0.5, 24/7

    @property
    def trades_24_7(self) -> bool:
        return self is not SymbolKind.FOREX


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One tradable symbol: MetaTrader's contract fields plus the price model's parameters."""

    name: str
    description: str
    path: str
    kind: SymbolKind
    digits: int
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    currency_base: str
    currency_profit: str
    currency_margin: str
    calc_mode: int
    ref_price: float  # level on 2024-01-01 00:00 server time
    annual_vol: float  # sigma per year (log returns); the index's number for Volatility N
    spread_points: int  # typical spread in liquid hours (forex) / fixed spread (Step)
    spread_pct: float = 0.0  # synthetics other than Step: spread as a fraction of price
    model_n: int = 0  # N of Boom N / Crash N
    stops_level: int = 0
    freeze_level: int = 0
    filling_mode: int = FILLING_FOK_BIT
    exemode: int = SYMBOL_TRADE_EXECUTION_INSTANT
    trade_mode: int = SYMBOL_TRADE_MODE_FULL
    swap_mode: int = SYMBOL_SWAP_MODE_POINTS
    swap_long: float = 0.0
    swap_short: float = 0.0
    swap_rollover3days: int = 3
    margin_hedged: float = 0.0
    margin_rate: float = 1.0
    volume_limit: float = 0.0
    expiration_mode: int = 15  # GTC | DAY | SPECIFIED | SPECIFIED_DAY
    order_mode: int = 127  # market, limit, stop, stop-limit, SL, TP, close-by
    in_market_watch: bool = False  # in the default Market Watch
    market: str = ""  # a variant's base symbol, whose prices it quotes; "" for a base symbol

    @property
    def point(self) -> float:
        return round(10.0**-self.digits, self.digits)

    @property
    def tick_size(self) -> float:
        return self.point


def _fx(
    name: str,
    description: str,
    group: str,
    price: float,
    vol: float,
    spread: int,
    swaps: tuple[float, float],
    *,
    major: bool = False,
    stops: int = 0,
) -> SymbolSpec:
    base, quote = name[:3], name[3:]
    return SymbolSpec(
        name=name,
        description=description,
        path=f"Forex\\{group}\\{name}",
        kind=SymbolKind.FOREX,
        digits=3 if quote == "JPY" else 5,
        contract_size=100_000.0,
        volume_min=0.01,
        volume_max=500.0,
        volume_step=0.01,
        currency_base=base,
        currency_profit=quote,
        currency_margin=base,
        calc_mode=SYMBOL_CALC_MODE_FOREX,
        ref_price=price,
        annual_vol=vol,
        spread_points=spread,
        stops_level=stops,
        swap_long=swaps[0],
        swap_short=swaps[1],
        margin_hedged=100_000.0,
        in_market_watch=major,
    )


def _synthetic(
    name: str,
    kind: SymbolKind,
    group: str,
    *,
    digits: int,
    price: float,
    vol: float,
    volume: tuple[float, float, float],
    contract: float = 1.0,
    spread_pct: float = 0.0,
    spread_points: int = 0,
    n: int = 0,
) -> SymbolSpec:
    return SymbolSpec(
        name=name,
        description=name,
        path=f"Derived\\{group}\\{name}",
        kind=kind,
        digits=digits,
        contract_size=contract,
        volume_min=volume[0],
        volume_max=volume[1],
        volume_step=volume[2],
        currency_base="USD",
        currency_profit="USD",
        currency_margin="USD",
        calc_mode=SYMBOL_CALC_MODE_CFDLEVERAGE,
        ref_price=price,
        annual_vol=vol,
        spread_points=spread_points,
        spread_pct=spread_pct,
        model_n=n,
        filling_mode=FILLING_FOK_BIT | FILLING_IOC_BIT,
        exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        swap_long=-7.5,
        swap_short=-7.5,
        swap_rollover3days=5,
    )


def _volatility(
    n: int, digits: int, price: float, volume: tuple[float, float, float]
) -> SymbolSpec:
    # Spread ~110 % of the expected move over one 2 s tick (reference section 7).
    two_second_move = n / 100 * math.sqrt(2 / (365 * 86_400))
    return _synthetic(
        f"Volatility {n} Index",
        SymbolKind.VOLATILITY,
        "Volatility Indices",
        digits=digits,
        price=price,
        vol=n / 100,
        volume=volume,
        spread_pct=1.1 * two_second_move,
    )


def _boom_crash(kind: SymbolKind, n: int, price: float) -> SymbolSpec:
    label = "Boom" if kind is SymbolKind.BOOM else "Crash"
    spread_pct = {1000: 0.0010, 500: 0.0014, 300: 0.0050}[n] / 100
    return _synthetic(
        f"{label} {n} Index",
        kind,
        "Crash Boom Indices",
        digits=3,
        price=price,
        vol=0.0,
        volume=(0.2, 50.0, 0.01),
        spread_pct=spread_pct,
        n=n,
    )


_CATALOGUE: tuple[SymbolSpec, ...] = (
    _fx("EURUSD", "Euro vs US Dollar", "Majors", 1.10400, 0.07, 8, (-7.2, 1.9), major=True),
    _fx(
        "GBPUSD",
        "Great Britain Pound vs US Dollar",
        "Majors",
        1.27300,
        0.08,
        12,
        (-4.5, -1.1),
        major=True,
    ),
    _fx(
        "USDJPY",
        "US Dollar vs Japanese Yen",
        "Majors",
        141.000,
        0.09,
        10,
        (14.6, -27.3),
        major=True,
    ),
    _fx(
        "USDCHF", "US Dollar vs Swiss Franc", "Majors", 0.84100, 0.07, 14, (9.8, -18.4), major=True
    ),
    _fx(
        "AUDUSD",
        "Australian Dollar vs US Dollar",
        "Majors",
        0.68100,
        0.10,
        10,
        (-3.9, -0.9),
        major=True,
    ),
    _fx(
        "USDCAD",
        "US Dollar vs Canadian Dollar",
        "Majors",
        1.32500,
        0.06,
        15,
        (1.2, -7.7),
        major=True,
    ),
    _fx(
        "NZDUSD",
        "New Zealand Dollar vs US Dollar",
        "Majors",
        0.63200,
        0.10,
        16,
        (-2.1, -1.9),
        major=True,
    ),
    _fx("EURGBP", "Euro vs Great Britain Pound", "Minors", 0.86700, 0.06, 14, (-6.1, 0.8)),
    _fx("EURJPY", "Euro vs Japanese Yen", "Minors", 155.700, 0.09, 17, (-0.2, -1.2)),
    _fx(
        "GBPJPY",
        "Great Britain Pound vs Japanese Yen",
        "Minors",
        179.500,
        0.11,
        28,
        (6.4, -21.5),
        stops=10,
    ),
    *(
        _fx(name, description, "Minors", price, vol, spread, swaps)
        for name, description, price, vol, spread, swaps in (
            ("EURCHF", "Euro vs Swiss Franc", 0.92900, 0.06, 18, (-9.6, 1.8)),
            ("EURCAD", "Euro vs Canadian Dollar", 1.46000, 0.07, 22, (-8.1, 1.2)),
            ("EURAUD", "Euro vs Australian Dollar", 1.62000, 0.08, 22, (-7.4, 0.9)),
            ("EURNZD", "Euro vs New Zealand Dollar", 1.74700, 0.09, 30, (-8.8, 1.1)),
            ("GBPCHF", "Great Britain Pound vs Swiss Franc", 1.07100, 0.08, 25, (-2.1, -6.0)),
            ("GBPAUD", "Great Britain Pound vs Australian Dollar", 1.86700, 0.09, 30, (-3.6, -4.2)),
            ("GBPCAD", "Great Britain Pound vs Canadian Dollar", 1.68300, 0.08, 30, (-2.8, -5.3)),
            (
                "GBPNZD",
                "Great Britain Pound vs New Zealand Dollar",
                2.01300,
                0.10,
                40,
                (-4.4, -5.0),
            ),
            ("AUDJPY", "Australian Dollar vs Japanese Yen", 96.100, 0.11, 18, (3.5, -12.6)),
            ("AUDCAD", "Australian Dollar vs Canadian Dollar", 0.90100, 0.08, 20, (-1.9, -3.4)),
            ("AUDCHF", "Australian Dollar vs Swiss Franc", 0.57300, 0.09, 20, (1.1, -5.9)),
            ("AUDNZD", "Australian Dollar vs New Zealand Dollar", 1.07800, 0.06, 25, (-3.9, -1.6)),
            ("CADJPY", "Canadian Dollar vs Japanese Yen", 106.400, 0.10, 20, (5.2, -15.1)),
            ("CHFJPY", "Swiss Franc vs Japanese Yen", 167.700, 0.09, 25, (-4.9, -9.8)),
            ("NZDJPY", "New Zealand Dollar vs Japanese Yen", 89.100, 0.11, 22, (2.8, -11.3)),
            ("CADCHF", "Canadian Dollar vs Swiss Franc", 0.63500, 0.07, 20, (1.6, -6.4)),
            ("NZDCAD", "New Zealand Dollar vs Canadian Dollar", 0.83600, 0.09, 25, (-2.0, -3.1)),
            ("NZDCHF", "New Zealand Dollar vs Swiss Franc", 0.53200, 0.09, 25, (0.9, -5.6)),
        )
    ),
    SymbolSpec(
        name="XAUUSD",
        description="Gold vs US Dollar",
        path="Metals\\XAUUSD",
        kind=SymbolKind.FOREX,
        digits=2,
        contract_size=100.0,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        currency_base="XAU",
        currency_profit="USD",
        currency_margin="XAU",
        calc_mode=SYMBOL_CALC_MODE_FOREX,
        ref_price=2063.00,
        annual_vol=0.15,
        spread_points=25,
        stops_level=20,
        freeze_level=5,
        swap_long=-38.5,
        swap_short=19.3,
        margin_hedged=50.0,
    ),
    _volatility(10, 3, 6_500.0, (0.5, 200.0, 0.01)),
    _volatility(25, 3, 3_000.0, (0.5, 200.0, 0.01)),
    _volatility(50, 4, 250.0, (3.0, 700.0, 0.01)),
    _volatility(75, 2, 400_000.0, (0.001, 5.0, 0.001)),
    _volatility(100, 2, 1_500.0, (0.5, 100.0, 0.01)),
    _boom_crash(SymbolKind.BOOM, 500, 5_500.0),
    _boom_crash(SymbolKind.BOOM, 1000, 12_000.0),
    _boom_crash(SymbolKind.CRASH, 500, 4_500.0),
    _boom_crash(SymbolKind.CRASH, 1000, 6_000.0),
    _synthetic(
        "Step Index",
        SymbolKind.STEP,
        "Step Indices",
        digits=1,
        price=8_000.0,
        vol=0.0,
        volume=(0.1, 50.0, 0.01),
        contract=10.0,
        spread_points=1,
    ),
)


#: Characters a variant suffix may not hold: ``group`` filter syntax (see :func:`match_group`).
_FORBIDDEN_IN_SUFFIX = frozenset(",*?[]!")


def variant_of(spec: SymbolSpec, suffix: str) -> SymbolSpec:
    """``spec`` listed again as ``name + suffix``: same contract, quoting ``spec``'s market."""
    name = spec.name + suffix
    folder, _, _ = spec.path.rpartition("\\")
    return replace(
        spec,
        name=name,
        path=f"{folder}\\{name}" if folder else name,
        in_market_watch=False,
        market=spec.market or spec.name,
    )


def _check_suffixes(variants: Sequence[str]) -> None:
    if isinstance(variants, str):
        raise SimulatorError(
            f"symbol_variants must be a sequence of suffixes, not the string {variants!r}"
        )
    seen: set[str] = set()
    for suffix in variants:
        if not isinstance(suffix, str) or not suffix:
            raise SimulatorError(f"a symbol variant suffix must be a non-empty string: {suffix!r}")
        bad = sorted({c for c in suffix if c.isspace() or c in _FORBIDDEN_IN_SUFFIX})
        if bad:
            raise SimulatorError(
                f"symbol variant suffix {suffix!r} holds {bad!r}: no whitespace, commas or "
                "group wildcards (*?[]!)"
            )
        if suffix in seen:
            raise SimulatorError(f"symbol variant suffix {suffix!r} is given twice")
        seen.add(suffix)


class Catalogue:
    """The symbols a terminal offers, in catalogue order, with currency lookups.

    ``variants``: suffixes listing every symbol again as a broker's variant (see the module
    docstring); :class:`SimulatorError` for a bad suffix.
    """

    def __init__(
        self, specs: tuple[SymbolSpec, ...] = _CATALOGUE, *, variants: Sequence[str] = ()
    ) -> None:
        _check_suffixes(variants)
        listed = specs + tuple(variant_of(spec, suffix) for suffix in variants for spec in specs)
        self._specs: dict[str, SymbolSpec] = {}
        for spec in listed:
            if spec.name in self._specs:
                raise SimulatorError(f"symbol variants list {spec.name!r} twice")
            self._specs[spec.name] = spec
        self._pairs: dict[tuple[str, str], SymbolSpec] = {
            (spec.currency_base, spec.currency_profit): spec
            for spec in specs
            if spec.kind is SymbolKind.FOREX and not spec.market
        }
        self.has_variants = any(spec.market for spec in listed)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, name: str) -> SymbolSpec | None:
        return self._specs.get(name)

    def all(self) -> tuple[SymbolSpec, ...]:
        return tuple(self._specs.values())

    def market(self, name: str) -> str:
        """The symbol whose prices ``name`` quotes: its base symbol for a variant, else itself."""
        spec = self._specs.get(name)
        return spec.market if spec is not None and spec.market else name

    def currencies(self) -> frozenset[str]:
        return frozenset(c for pair in self._pairs for c in pair)

    def pair(self, base: str, quote: str) -> SymbolSpec | None:
        """The symbol quoting ``base`` in ``quote`` (EURUSD for EUR, USD), if listed."""
        return self._pairs.get((base, quote))


def match_group(name: str, group: str) -> bool:
    """MetaTrader's ``group`` filter: comma-separated masks, ``*`` wildcards, ``!`` negation.

    Conditions apply left to right and the last one matching the name decides, so
    ``"*,!*EUR*"`` selects everything without EUR and ``"*EUR*,!EURGBP"`` the EUR symbols but
    EURGBP. A filter made only of negations starts from "everything". Case-insensitive.
    """
    masks = [part.strip() for part in group.split(",") if part.strip()]
    if not masks:
        return True
    selected = all(mask.startswith("!") for mask in masks)
    upper = name.upper()
    for mask in masks:
        negated = mask.startswith("!")
        pattern = mask[1:] if negated else mask
        if fnmatchcase(upper, pattern.upper()):
            selected = not negated
    return selected
