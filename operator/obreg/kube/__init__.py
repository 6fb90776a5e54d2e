"""What acts on the API server: the watches and indexes, the writes, the order of a
reconcile and of a Key Manager pass. The decisions they carry out live in rules/; a
module here that starts deciding something testable without a cluster belongs there.
"""
