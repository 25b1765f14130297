"""A day's reply holds the number of records its request implies, or the day is not loaded.

For a seeded request simtom's count is exact (the bundled simulator reproduces it, contract §3.1),
so a short or empty 200 reply is a failed fetch, not a small day. For an unseeded request the count
must fall within the noise band of the expected-volume model. The band is the quality gate's own
(:func:`bnpl.calendar.source_count_band`, ``BNPL_QUALITY__VOLUME_TOLERANCE`` and
``BNPL_QUALITY__NOISE_BAND_SIGMAS``), so a day the loader accepts is a day the gate accepts.
"""

from __future__ import annotations

import logging

from bnpl.calendar import DayRequest, source_count_band
from bnpl.errors import VolumeMismatchError
from bnpl.settings import Settings

logger = logging.getLogger(__name__)


def check_volume(request: DayRequest, received: int, settings: Settings) -> None:
    """Raise unless ``received`` records are what ``request`` implies.

    With ``BNPL_INGEST__ACCEPT_VOLUME_MISMATCH=true`` a mismatch is logged as a warning instead.

    Raises:
        VolumeMismatchError: the count is outside the band; the day must not be written (a plain
            re-run fetches it again).
    """
    seed = request.body.get("seed")
    base = int(request.body.get("base_daily_volume", 0)) or None
    if base is None:  # a body without the plan's fields: only the planned count is known
        expected = lo = hi = request.expected_volume
    else:
        expected, lo, hi = source_count_band(
            base,
            request.day,
            int(seed) if seed else None,
            tolerance=settings.quality.volume_tolerance,
            sigmas=settings.quality.noise_band_sigmas,
        )
    if lo <= received <= hi:
        return
    band = f"exactly {expected}" if lo == hi else f"{lo}..{hi} (median {expected})"
    kind = "seeded" if seed else "unseeded"
    message = (
        f"{request.day}: the source sent {received} records, the {kind} request implies {band}; "
        "the reply was short or wrong and the day was not loaded. Run the same command again "
        "once the source is healthy (the day is fetched again), or set "
        "BNPL_INGEST__ACCEPT_VOLUME_MISMATCH=true to load such days knowingly"
    )
    if settings.ingest.accept_volume_mismatch:
        logger.warning("%s (accepted: BNPL_INGEST__ACCEPT_VOLUME_MISMATCH)", message)
        return
    raise VolumeMismatchError(message, received=received, expected=expected)
