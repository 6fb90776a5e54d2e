"""The project's own Kubernetes control plane: built from the Go module proxy, run on
loopback. See build.py (binaries) and launcher.py (processes)."""
