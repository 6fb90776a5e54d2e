# People's entry points. Each target installs what it needs, so a fresh clone works.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONTROLPLANE := $(PY) -m testbed.controlplane

.PHONY: lint venv controlplane cluster-up cluster-down demo test faults fuzz coverage crds e2e-kind \
	e2e-real e2e-gitops real-node-deps kind-deps bench bench-quick mutate refusals release lock

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

# ruff's lint and strict mypy, as make test runs them first.
lint: venv
	$(VENV)/bin/ruff check operator testbed hack tests bench
	$(VENV)/bin/mypy

# NODE=real adds a node that runs real containers (containerd, kubelet, kube-proxy; needs
# root and Debian's packages, which real-node-deps installs with OBREG_INSTALL_PACKAGES=1).
NODE ?= kwok
cluster-up: controlplane $(if $(filter real,$(NODE)),real-node-deps)
	@$(CONTROLPLANE) up --node $(NODE)

cluster-down: venv
	@$(CONTROLPLANE) down

# The runbook scenario on the local plane: CRDs, RBAC, operator, samples, Ready.
demo: controlplane
	@PYTHONPATH=. $(PY) hack/demo.py

# Everything, as tiers run side by side (TIER_JOBS at a time): each tier is a target
# tier-<name> whose recipe runs through $(TIER), which logs it to build/tiers/<name>.log,
# prints the log whole when the tier ends and records its wall time; make test ends with
# a table of every tier's outcome and cost. To add a tier: write its tier-<name> target
# (prerequisites: the tiers or builds it needs; order-only ones for tiers it must not
# overlap) and add its name to TIERS. A tier whose prerequisite failed does not run, and
# the table says so. docs/testing.md says what each costs.
TIERS := lint offline plane cluster plane-oldest oldest gitops real kind
TIER_JOBS ?= 3
TIER = $(PY) hack/tiers.py run $(patsubst tier-%,%,$@) --
.PHONY: $(addprefix tier-,$(TIERS)) e2e-oldest controlplane-oldest
test: venv
	@$(PY) hack/tiers.py begin
	@$(MAKE) --no-print-directory -k -j$(TIER_JOBS) $(addprefix tier-,$(TIERS)); \
	status=$$?; $(PY) hack/tiers.py summary $(TIERS) && exit $$status

tier-lint: venv
	@$(TIER) $(MAKE) --no-print-directory lint
# Whatever needs no control plane: tests/unit, km, fuzz's offline properties, fidelity.
tier-offline: venv
	@$(TIER) $(PY) -m pytest -m "not cluster" $(PYTEST_ARGS)
# The newest Kubernetes' plane, built (or found in the cache).
tier-plane: venv
	@$(TIER) env $(CONTROLPLANE) build
# Everything on the newest plane in one session: tests/cluster, controlplane, e2e, faults
# and fuzz's API-server properties; tests/gitops is a tier of its own (tier-gitops).
tier-cluster: tier-plane
	@$(TIER) $(PY) -m pytest -m cluster --ignore=tests/gitops $(PYTEST_ARGS)
# The oldest supported Kubernetes' plane, built after the newest's: two Go builds at once
# on two cores would only delay the cluster tier.
tier-plane-oldest: venv | tier-plane
	@$(TIER) $(MAKE) --no-print-directory controlplane-oldest
tier-oldest: tier-plane-oldest
	@$(TIER) $(MAKE) --no-print-directory e2e-oldest
# The GitOps tier on a plane of its own, mostly idle (its five-minute watch of Flux and
# obreg): after the oldest plane's tier, so at most two planes' tests share the two cores.
tier-gitops: tier-plane | tier-oldest
	@$(TIER) $(MAKE) --no-print-directory e2e-gitops
# The real-node tier changes the host while it runs (it needs root; skipped, saying so,
# without it) and builds images on both cores: after the cluster tier, whose fault
# timings it would load.
# Without the packages it needs and no opt-in to install them, it is skipped too; with
# them, it checks that it left the host's rules, forwarding, packages, addresses and
# routes as they were (tests/real's host_left_as_found).
# $(call skip_root_tier,TIER,PACKAGES) else RUN; fi: skip the tier saying why (not root;
# its Debian packages missing and no opt-in to install them), else RUN (written out in
# the recipe, where make sees its $(MAKE) and lends the sub-make its job slots).
skip_root_tier = @missing='$(call missing_packages,$(2))'; \
	if [ "$$(id -u)" != 0 ]; then $(PY) hack/tiers.py skip $(1) "needs root (make e2e-$(1))"; \
	elif [ -n "$$missing" ] && [ "$(OBREG_INSTALL_PACKAGES)" != 1 ]; then \
		$(PY) hack/tiers.py skip $(1) "needs Debian's $$missing: install them, or $(REAL_NODE_OPT_IN)";
tier-real: venv | tier-cluster
	$(call skip_root_tier,real,$(REAL_NODE_PACKAGES)) \
	else $(TIER) $(MAKE) --no-print-directory e2e-real; fi
# The same tests on kind (make e2e-kind): after the real tier, since each compares the
# whole host before and after itself and the other's node would show as a change; needs
# root and its packages, as the real tier does (skipped, saying so, without them).
tier-kind: venv | tier-real
	$(call skip_root_tier,kind,$(KIND_PACKAGES)) \
	else $(TIER) $(MAKE) --no-print-directory e2e-kind; fi

# The oldest Kubernetes the README supports (OBREG_K8S_VERSION=oldest; build.PLANES names
# it): its plane built and cached beside the newest's, and tests/cluster, controlplane and
# e2e run on it in a session of their own.
controlplane-oldest: venv
	OBREG_K8S_VERSION=oldest $(CONTROLPLANE) build
e2e-oldest: controlplane-oldest
	OBREG_K8S_VERSION=oldest $(PY) -m pytest -m cluster tests/cluster tests/controlplane \
		tests/e2e $(PYTEST_ARGS)

# The GitOps tier (tests/gitops): Flux's own source-controller and kustomize-controller
# and Argo CD's health script in gopher-lua (testbed/gitops; each built from the Go module
# proxy on first use and cached under ~/.cache/obreg/tools), on the newest plane, fed by a
# Git server on localhost. Its idle test watches Flux and obreg for
# OBREG_GITOPS_IDLE_SECONDS (300 by default; shorter, down to 40, for a local run).
e2e-gitops: controlplane
	$(PY) -m pytest tests/gitops $(PYTEST_ARGS)

# What Debian packages the real node and the image builds need (gcc and libc6-dev for
# the static pause binary). make installs the missing ones only when told to
# (OBREG_INSTALL_PACKAGES=1, as .ci/run does), since that changes the machine for good;
# otherwise real-node-deps fails naming them, and make test skips the real tier saying so.
REAL_NODE_PACKAGES := containerd runc containernetworking-plugins iptables buildah debootstrap \
	gcc libc6-dev
# The kind tier's too: its own Docker engine and the egress of that engine's namespace.
KIND_PACKAGES := $(REAL_NODE_PACKAGES) docker.io slirp4netns
missing_packages = $(strip $(shell for p in $(1); do \
	dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || echo $$p; done))
REAL_NODE_OPT_IN := OBREG_INSTALL_PACKAGES=1 lets make install them (apt-get)
# $(call install_missing,WHO,PACKAGES): the recipe that fails naming the missing ones, or
# installs them with the opt-in.
install_missing = @missing='$(call missing_packages,$(2))'; [ -z "$$missing" ] && exit 0; \
	if [ "$(OBREG_INSTALL_PACKAGES)" != 1 ]; then \
		echo "$(1) needs Debian's $$missing: install them, or $(REAL_NODE_OPT_IN)"; \
		exit 2; fi; \
	apt-get install -y -q --no-install-recommends $$missing \
	|| { apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; }
real-node-deps:
	$(call install_missing,the real node,$(REAL_NODE_PACKAGES))
kind-deps:
	$(call install_missing,the kind tier,$(KIND_PACKAGES))

# The real-node tier (tests/real): the plane with a kubelet node running real containers,
# obreg's image built from the Dockerfile with buildah on a debootstrapped Debian base,
# the chart installed with it, and a WSO2 stand-in reading obreg's files in its pods.
e2e-real: controlplane real-node-deps
	OBREG_NODE=real $(PY) -m pytest tests/real $(PYTEST_ARGS)
	@$(CONTROLPLANE) leftovers

# The fault-injection tier alone (tests/faults; make test runs it too): obreg killed at
# each point of a reconcile, the API server and etcd stopped, watches expired, throttling,
# the Key Manager failing, deletions mid-reconcile; prints the Reliability table.
faults: controlplane
	$(PY) -m pytest -m faults $(PYTEST_ARGS)

# The property-based tests with many more examples than CI's bounded, fixed-seed run
# (tests/fuzz); what they find is kept in .hypothesis/ and replayed first next time.
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/fuzz -m "not cluster" -q $(PYTEST_ARGS)

# Line coverage of the pure core (api/, render/, rules/: the packages that decide without
# I/O; km/, whose client the offline KM double serves; kube/serving.py's loop, run with
# a fake discovery) by the offline tiers alone (tests/unit, tests/km): how much of a change
# there is checked without a cluster. No cluster needed.
PURE_CORE := operator/obreg/render/*,operator/obreg/api/*,operator/obreg/rules/*,$\
	operator/obreg/km/*,operator/obreg/kube/serving.py,$\
	operator/obreg/redaction.py,operator/obreg/errors.py
coverage: venv
	mkdir -p build
	COVERAGE_FILE=build/.coverage $(PY) -m coverage run --source=operator/obreg \
		-m pytest tests/unit tests/km -q -p no:cacheprovider $(PYTEST_ARGS)
	COVERAGE_FILE=build/.coverage $(PY) -m coverage report --include='$(PURE_CORE)'

# Mutation testing of the same pure core against the same offline tiers (mutmut, in a
# staged copy under build/mutate; see hack/mutate.py). Prints the score; the survivors
# are in build/mutate/results.txt, `cd build/mutate && mutmut show NAME` shows one.
# About an hour on 2 cores; a second run re-tests only what changed.
comma := ,
mutate: venv
	$(PY) -m pip install --quiet -e '.[test,mutate]'
	$(PY) hack/mutate.py $(foreach g,$(subst $(comma), ,$(PURE_CORE)),'$(g)')

# Re-record tests/refusals.txt, obreg render's whole refusal of each bad-input case,
# after a deliberate change of a message; the diff shows what users will read.
refusals: venv
	$(PY) hack/record_refusals.py

# A release (hack/release): for VERSION (semver, named here only: it is stamped into a copy
# of the commit, never into the tree), under DIST: the image as an OCI archive and its
# digest, the chart pinned to it, the wheel and sdist, the image's SBOM (syft, built from
# the Go module proxy and cached), SHA256SUMS, and CHANGELOG.md's section as
# RELEASE-NOTES.md. Builds the image with buildah as the real-node tier does (root).
DIST ?= dist
RELEASE_COMMIT ?= HEAD
release: venv real-node-deps
	@test -n "$(VERSION)" || { echo "make release: name the version: make release VERSION=x.y.z"; exit 2; }
	PYTHONPATH=hack $(PY) -m release --version '$(VERSION)' --dist '$(DIST)' --commit '$(RELEASE_COMMIT)'

# Refresh requirements/*.lock (hash-pinned, what the image build installs) to the newest
# versions pyproject.toml and requirements/build.in allow; review the diff, then commit.
lock: venv
	PYTHONPATH=hack $(PY) -m release.lock

# Regenerate the CRDs from the models: crds/ (for kubectl) and the chart's template.
crds: venv
	$(VENV)/bin/obreg crds > crds/obreg.dev.yaml
	$(PY) hack/chart_crds.py

# The real-node tier (tests/real, the same tests as e2e-real) on a kind cluster made from
# kind-config.yaml (testbed/kind): a Docker engine of its own (Debian's docker.io, in a
# network namespace, its data under ~/.cache/obreg/docker), kind and the node image built
# here and cached (no registry needed), images built with buildah and loaded with kind
# load; the engine stopped after, and the tier fails on anything it left on the host.
# Needs root, like e2e-real.
e2e-kind: controlplane kind-deps
	$(PY) -m testbed.kind e2e $(PYTEST_ARGS)

# Benchmarks (bench/): figures printed and written as JSON to bench/results/.
bench-quick: controlplane
	PYTHONPATH=hack:. $(PY) -m bench.render --quick
	PYTHONPATH=hack:. $(PY) -m bench.growth --quick
	PYTHONPATH=hack:. $(PY) -m bench.operator --quick

bench: controlplane
	PYTHONPATH=hack:. $(PY) -m bench.render
	PYTHONPATH=hack:. $(PY) -m bench.growth
	PYTHONPATH=hack:. $(PY) -m bench.operator
