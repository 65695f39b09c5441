"""`make chaos`: ``python -m tests.chaos [--report chaos-report.json] [--only NAME ...]``.

Starts the topology once (tests/topology.py), runs every fault scenario on it, then the load
on the embedded `up`; prints the table and writes the same rows to the report. Exit code 1 when
any figure is not met (not all completed, anything lost, a ticket with two contents, a worker
over capacity). CHAOS_SCALE=full gives the campaign's sizes (the Makefile sets it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos import campaign, embedded_load, report
from tests.servers import leftovers
from tests.topology import Topology


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (a `timeout`) stops every process of the topology too


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--report", type=Path, default=Path("chaos-report.json"))
    parser.add_argument("--only", action="append", help="scenario name (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    args = parser.parse_args()
    marker = leftovers.mark_session()
    only = set(args.only) if args.only else None
    sizes = campaign.sizes()
    started = time.monotonic()
    rows: list[report.Row] = []
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    print(f"chaos campaign: logs in {root}", flush=True)
    try:
        if only is None or only - {"up"}:
            with Topology(root / "topology", workers=2, intakes=2, apis=1) as topo:
                for row in campaign.topology_rows(topo, only):
                    rows.append(row)
                    report.write(rows, args.report)  # what was measured survives an interrupt
                    print(report.table([row]), flush=True)
        if only is None or "up" in only:
            rows.append(embedded_load.embedded_row(root, sizes.up_plans, sizes.settle_s))
    finally:
        left = leftovers.leftovers(marker, grace_s=10)
        if left:
            print("left running (killed now):", *map(leftovers.describe, left), sep="\n  ")
            leftovers.kill(left, marker)
    print()
    print(report.table(rows))
    print(f"\ncampaign took {round(time.monotonic() - started)} s; report in {args.report}")
    report.write(rows, args.report)
    return 0 if rows and all(row.met() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
