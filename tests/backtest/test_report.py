"""The HTML report: self-contained, complete, and really showing its curves in a browser.

The browser test renders the report in headless Chromium (installed by ``make test``) and
looks at the screenshot: the equity line's blue and the drawdown's pink area must be there in
quantity, on a page that is not blank.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forexbot.backtest.report import MAX_POINTS, decimate, render, write_report
from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.domain.market import Timeframe

START = datetime(2025, 1, 6, tzinfo=UTC).timestamp()
EQUITY_BLUE = (0x1F, 0x6F, 0xEB)
# The drawdown area: #f85149 at 20 % over the plot's #fbfcfe.
DRAWDOWN_FILL = (250, 218, 218)


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(
        BacktestSpec(
            strategy="ma_rsi",
            symbol="EURUSD",
            timeframe=Timeframe.M15,
            start=START,
            end=START + 60 * 86_400,
        )
    )


def test_the_report_loads_nothing_from_elsewhere(result: BacktestResult) -> None:
    page = render(result)
    assert "<script" not in page
    assert "<link" not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 3
    assert not re.search(r"\b(src|href)=", page)


def test_the_report_has_the_curves_the_price_chart_and_every_trade(
    result: BacktestResult,
) -> None:
    page = render(result)
    for chart in ("equity-chart", "drawdown-chart", "price-chart"):
        assert f'id="{chart}"' in page
    assert len(result.trades) >= 5
    assert page.count('class="entry ') == len(result.trades)
    assert page.count('class="exit"') == len(result.trades)
    for trade in result.trades:
        assert f"<td>{trade.net:,.2f}</td>" in page
    assert f"<td>{result.statistics.trades}</td>" in page


def test_long_curves_are_decimated_keeping_their_extremes() -> None:
    x = np.arange(100_000, dtype=np.float64)
    y = np.sin(x / 500.0)
    y[54_321] = 7.0  # a spike
    xs, ys = decimate(x, y)
    assert len(xs) <= MAX_POINTS + 4
    assert ys.max() == 7.0
    assert (xs[0], xs[-1]) == (0.0, 99_999.0)
    assert np.all(np.diff(xs) > 0)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium: `make test` installs Debian's chromium package")


def _count(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    distance = np.abs(pixels[:, :, :3].astype(np.int32) - np.array(colour)).sum(axis=2)
    return int((distance <= tolerance).sum())


def test_the_report_shows_its_curves_in_headless_chromium(
    result: BacktestResult, tmp_path: Path
) -> None:
    report, shot = tmp_path / "report.html", tmp_path / "report.png"
    write_report(result, report)
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1300,1400",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1400, 1300)
    assert pixels.std() > 20, "the screenshot is blank"
    assert _count(pixels, EQUITY_BLUE) > 300, "no equity curve"
    assert _count(pixels, DRAWDOWN_FILL, tolerance=24) > 3000, "no drawdown area"
