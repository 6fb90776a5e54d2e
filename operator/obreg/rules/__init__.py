"""What the operator decides, as pure functions over typed values: no Kubernetes or Key
Manager I/O, no clock or randomness of their own (both are passed in), so every rule is
tested by tables offline (tests/unit) and measured by ``make mutate``.

The packages that act on these decisions are kube/ (the API server: watches, writes,
the order of a reconcile) and km/ (the Key Manager's admin services). api/ (the
resources' schema) and render/ (resources to file bytes) are pure like this one.
"""
