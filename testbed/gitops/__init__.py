"""Flux's own controllers for the GitOps tier (tests/gitops): built from the Go module
proxy, run as processes against the local control plane, fed by a Git server of ours."""
