# The two set-up commands are `make demo` and `make test`; both create .venv
# and install everything (system libraries too) on a fresh Debian machine.
.PHONY: demo test lint bench venv

venv:
	@bash scripts/bootstrap.sh

# Numba compiles its kernels once per install or update (tens of seconds, holding the GIL);
# vision.precompile does it before the node runs, and takes about 2 s when they are cached.
demo: venv
	.venv/bin/python -m vision.precompile
	.venv/bin/tracenode sim

# Lint and types first, the suite last, so its summary line closes the output.
test: venv
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m vision.precompile
	.venv/bin/python -m pytest -q

lint: venv
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: venv
	.venv/bin/python -m bench
