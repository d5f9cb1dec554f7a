"""Keeping the garbage collector's full passes off the order path.

Start-up leaves a large heap that stays alive for the whole run: the compiled indicators,
pandas and numpy, the strategies' history windows, the simulator's market. CPython's cyclic
collector scans all of it on every generation-2 pass, and the event loop runs nothing
meanwhile: no tick is read, no order is sent. In the tick-to-order benchmark (30 symbols × 4
strategies, 20 simulated minutes after warm-up) one such pass took 110 ms. ``gc.freeze()``
moves every object alive at that moment into a permanent generation the collector skips, so
later passes scan only what was allocated since (the advice of CPython's ``gc``
documentation for long-running servers); with it, the same run had no full pass at all.

Rules:

* Called once the strategies are warmed up and before trading starts (the collection that
  precedes the freeze pauses the loop for about a tenth of a second: no order may wait on
  it), so the start-up's own garbage is freed, not frozen.
* A frozen object is never collected: one that later becomes part of unreachable cycles is
  leaked. What is alive at start-up lives as long as the process, or is replaced without
  cycles (an analysis adopted at a bar's close replaces a strategy's state by a fork made
  after the freeze, which the collector then scans as usual), so nothing is lost in
  practice. The daemon unfreezes at stop (``gc.unfreeze``), so a daemon run inside another
  process (the tests) hands that process back a normal heap.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Collect, then freeze what survives."""
    gc.collect()
    gc.freeze()
