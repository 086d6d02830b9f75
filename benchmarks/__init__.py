"""convexnn benchmarks: ``python -m benchmarks [--quick] [--out FILE]``.

Every module ``benchmarks/bench_*.py`` defines ``run(quick: bool) -> str`` returning a markdown
section; the runner concatenates them into one report (default ``benchmarks/RESULTS.md``).
Benchmarks evaluate every method's result themselves (``Problem.objective`` on the returned
network, constraint violations recomputed from the returned arrays), never trusting a
solver's own report.
"""
