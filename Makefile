# The two set-up commands are `make demo` and `make test`; both create .venv
# and install everything (system libraries too) on a fresh Debian machine.
.PHONY: demo test lint bench venv

venv:
	@bash scripts/bootstrap.sh

demo: venv
	.venv/bin/tracenode sim

# Lint and types first, the suite last, so its summary line closes the output.
test: venv
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

lint: venv
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: venv
	.venv/bin/python -m bench
