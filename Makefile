# The two commands of the README, and a few for developers.
.PHONY: setup demo test lint bench clean
SHELL := /bin/bash

setup:          ## install everything (Debian packages, services, .venv, Odoo discovery)
	bash scripts/setup.sh

demo:           ## demo database with every addon, plant data, Odoo on http://localhost:8069
	bash scripts/demo.sh

test:           ## every pytest and Odoo test; ends with "N passed, N failed"
	bash scripts/run_tests.sh

bench:          ## benchmarks, figures side by side with their baselines
	bash scripts/bench.sh

lint:           ## ruff, mypy strict and pylint-odoo; fails on any finding
	bash scripts/lint.sh

.PHONY: fuzz
fuzz:           ## property tests of the decoders and the writer with many examples (HF_FUZZ_EXAMPLES, HF_FUZZ_MINUTES)
	bash scripts/fuzz.sh
