# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
XL      = $(VENV)/bin/xlsearch
LANGS  ?= en,zh,ja,de,es

.PHONY: install demo test lint es-start es-stop clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

es-start: install
	$(XL) es start

es-stop:
	-$(XL) es stop

# Install, start the local node, prepare the model and dictionaries, load the
# sample catalog (written in en, zh, ja, de, es) into the demo index.
demo: install es-start
	$(XL) models prepare
	$(XL) dictionaries install
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
