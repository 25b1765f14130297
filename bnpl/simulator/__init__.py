"""The bundled simtom-compatible simulator: the generator (:mod:`~bnpl.simulator.simulation`,
entities, records, render, perturb), injected faults, real-time pacing, the HTTP server
(``bnpl simulate serve``) and the fault-simulation report of daily runs.

Import the parts from their modules; this package only names the simulator's source identity,
so importing it stays cheap.
"""

from __future__ import annotations

from bnpl.version import VERSION

SIMULATOR_IDENTITY = f"simulator:bnpl/{VERSION}"
"""Source identity of the bundled simulator: its port changes every run, so not its URL."""

__all__ = ["SIMULATOR_IDENTITY", "VERSION"]
