"""The e2e-kind tier's test bed: a Docker engine of its own, kind's node image built here,
kind and the node's Go programs from the Go module proxy (``python -m testbed.kind``)."""
