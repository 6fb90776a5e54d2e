# People's entry points. Each target installs what it needs, so a fresh clone works.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONTROLPLANE := PYTHONPATH=hack $(PY) -m controlplane

.PHONY: venv controlplane cluster-up cluster-down demo test crds

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and helm
# from the Go module proxy into ~/.cache/obreg (once per machine and version).
controlplane: venv
	$(CONTROLPLANE) build

cluster-up: controlplane
	@$(CONTROLPLANE) up

cluster-down: venv
	@$(CONTROLPLANE) down

# The runbook scenario on the local plane: CRDs, RBAC, operator, samples, Ready.
demo: controlplane
	@PYTHONPATH=hack $(PY) hack/demo.py

test: controlplane
	$(PY) -m pytest $(PYTEST_ARGS)

# Regenerate the CRDs (top level and the chart's copy) from the models.
crds: venv
	$(VENV)/bin/obreg crds > crds/obreg.dev.yaml
	cp crds/obreg.dev.yaml charts/obreg/crds/obreg.dev.yaml
