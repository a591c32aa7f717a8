# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
XL      = $(VENV)/bin/xlsearch
UV      = $(VENV)/bin/uv
LANGS  ?= en,zh,ja,de,es
# Every install is uv.lock's: the same versions (and hashes) on every machine.
EXTRAS  = --extra test --extra dev
export UV_PYTHON_DOWNLOADS = never
export UV_PROJECT_ENVIRONMENT = $(abspath $(VENV))

.PHONY: install demo test lint lock lock-upgrade es-start es-stop clean

# uv itself comes pinned by hash; it then installs the lock into the same .venv.
$(UV): requirements-bootstrap.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-bootstrap.txt
	touch $@

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI machines),
# every command would otherwise compile torch and transformers again (~6 s each).
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen $(EXTRAS) --python $(PY) --quiet --compile-bytecode
	$(PY) -m compileall -q xlsearch_es
	touch $@

install: $(VENV)/.installed

# After editing dependencies in pyproject.toml: pin the new ones (the others keep their versions).
lock: $(UV)
	$(UV) lock --python $(PY)

# Move every pin to the newest version pyproject.toml allows; then run `make lint test`.
lock-upgrade: $(UV)
	$(UV) lock --upgrade --python $(PY)

es-start: install
	$(XL) es start

es-stop:
	-$(XL) es stop

# Install, start the local node, prepare the model and dictionaries, load the
# sample catalog (written in en, zh, ja, de, es) into the demo index.
demo: install es-start
	$(XL) models prepare
	$(XL) dictionaries install --languages $(LANGS)
	$(XL) ingest samples/catalog.jsonl --index demo-products --languages $(LANGS)
	@for q in "绿色 连衣裙" "青いノートパソコン" "grüne Waschmaschine" "zapatillas negras" "green USB-C charger"; do \
	  $(XL) search "$$q" --index demo-products --k 3 || exit 1; echo; done
	@echo "Serve it:   $(XL) serve --index demo-products --port 8080   then open http://127.0.0.1:8080/"
	@echo "curl:       curl -s localhost:8080/v1/search -H 'content-type: application/json' -d '{\"query\": \"zapatillas negras\", \"k\": 3}'"
	@echo "python:     Elasticsearch('http://127.0.0.1:8080').search(index='demo-products', query={'xlsearch': {'query': 'zapatillas negras'}})"

# Runs the whole suite; tests start (or reuse) the local node themselves.
test: install
	$(PY) -m pytest -q

# Lint, format check and type check of the package (what CI runs before the tests).
lint: install
	$(PY) -m ruff check xlsearch_es
	$(PY) -m ruff format --check xlsearch_es
	$(PY) -m mypy xlsearch_es

clean:
	rm -rf $(VENV) .pytest_cache
