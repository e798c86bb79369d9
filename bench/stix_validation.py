"""``python -m bench.stix_validation``: objects per second of app/stix's validation paths.

Not part of ``make bench`` yet (the TAXII intake benchmark will be): it shows what the fast
path buys over stix2-validator, which intake needs to reach 20,000 objects a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from app.stix.fastpath import certainly_valid
from app.stix.identifiers import identifiers_of
from app.stix.validation import _validator, problems
from tests.stix_objects import common_objects, indicator


def _rate(objects: list[dict[str, Any]], work: Callable[[dict[str, Any]], object]) -> float:
    started = time.perf_counter()
    for obj in objects:
        work(obj)
    return len(objects) / (time.perf_counter() - started)


def main() -> None:
    indicators = [
        indicator(f"[ipv4-addr:value = '10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}']")
        for i in range(20_000)
    ]
    mixed = common_objects() * 1_000
    assert all(certainly_valid(obj) for obj in mixed)  # else this measures the slow path
    validate = _validator()
    report = {
        "fast_path_indicators_per_s": _rate(indicators, problems),
        "fast_path_mixed_objects_per_s": _rate(mixed, problems),
        "validator_objects_per_s": _rate(indicators[:500], validate),
        "identifiers_of_indicators_per_s": _rate(indicators, identifiers_of),
    }
    print(json.dumps({key: round(value) for key, value in report.items()}, indent=2))


if __name__ == "__main__":
    main()
