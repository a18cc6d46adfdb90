"""Research scripts: the questions asked of the demo and of the released code, each runnable on
its own (``python experiments/<script>.py --help``), with its findings in ``LOG.md``. Not
benchmarks: those measure speed against a baseline (``benchmarks/``)."""
