"""``obreg import``: from WSO2 product homes configured by hand to obreg's resources.

Pure like ``obreg render``: files in, manifests out, no Kubernetes I/O. The import is
checked by its own inverse: every resource it builds is rendered with obreg's renderer
and compared with the file it came from, so whatever obreg cannot represent is found and
reported, never dropped (docs/importing.md).
"""
