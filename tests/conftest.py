"""Suite-wide test settings."""

from __future__ import annotations

from hypothesis import settings

# Hypothesis fails an example slower than its deadline (200 ms by default) and, when the
# replay is fast, reports the test as flaky. On a busy machine (and late in a long run, with
# a big heap to collect) one example of a legal-walk property took ~170 ms on average: the
# deadline raced the machine's load, not our code. Speed targets live in bench/.
settings.register_profile("zoneguard", deadline=None)
settings.load_profile("zoneguard")
