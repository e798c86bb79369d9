"""``python -m bench``: run the benchmark and print its JSON report."""

from bench.cli import main

raise SystemExit(main())
