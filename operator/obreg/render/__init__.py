"""From typed specs and resolved inputs to the bytes of the products' files, with no
I/O: the same input always renders the same bytes (``obreg render`` runs it offline)."""
