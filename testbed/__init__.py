"""The test bed: what the tests and benchmarks run obreg against, built here from the
upstream sources rather than mocked. ``controlplane`` builds and starts a real control
plane on loopback (etcd, kube-apiserver, controllers, kwok, and a kubelet node for real
containers); ``kmdouble`` is a Key Manager double that serves WSO2's admin services by
the contract in ``kmcontract``; ``gitops`` holds Flux's controllers and Argo CD's Lua
runner; ``install_obreg``, ``audit_log`` and ``apiserver_metrics`` install obreg on the
plane and read what the API server saw.

It is not shipped: the image, the wheel and the chart hold none of it. hack/ keeps the
development scripts (make's tiers, the release, mutation testing, the demo).

The Go modules under ``controlplane`` keep their module paths (``obreg.dev/hack/...``):
their go.mod is part of each build's cache key, so renaming them would rebuild every
binary cold for no change in what is built.
"""
