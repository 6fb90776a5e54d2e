"""``make release``: obreg's release artifacts for one version, under dist/."""
