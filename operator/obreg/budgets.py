"""Every budget obreg holds its readers and parsers to, in one place.

A resource, a referenced Secret or ConfigMap, a manifest file or a Key Manager answer is
written by someone obreg does not trust: a user with create rights on one kind, a
compromised Key Manager, a repository under review. Each reader below stops at its
budget and refuses with the resource and field path (or, for the Key Manager, a status
naming the limit), so no input can take unbounded memory, CPU or time, and no limit is
ever an internal error. The numbers are far above anything a real WSO2 deployment holds
(the figures in the comments say what real inputs measure) and far below what would hurt
an operator with a 256 MiB memory limit.
"""

from __future__ import annotations

# --- Bytes ------------------------------------------------------------------------------

# One manifest file or stdin for `obreg render`: the API server refuses a request body
# over 3 MiB, and kubectl's own largest objects stay well under it. Also one file that
# `obreg import` reads from a product home (stat first, then at most one byte more is
# read), since what it reads ends up in a manifest file; the objects it writes are then
# held to the API server's 1 MiB each, as written. A real home's largest (identity.xml,
# api-manager.xml, a client truststore) is well under 1 MiB.
MANIFEST_BYTES = 8 * 1024 * 1024
# Bytes of all the files `obreg import` reads from one home, together: it keeps each
# file's bytes from its one read to the check (importing/files.py), so this bounds the
# memory a home can take whatever the number of files. A real home's files the import
# reads (identity.xml, api-manager.xml, site.json, the locale files, the truststore and
# the provider files) are under 2 MiB together.
IMPORT_HOME_BYTES = 32 * 1024 * 1024
# One Key Manager answer, on the wire and after decompression: the largest WSO2 admin
# answer obreg reads (getScopes of a KM with a few hundred scopes) is under 1 MiB.
KM_ANSWER_BYTES = 4 * 1024 * 1024
# Elements and attributes of one Key Manager answer (km/soap.parse): its bytes alone do
# not bound its tree, since 4 MiB of <a/> is a million elements (4 KB gzip'd) and lxml
# keeps 100 to 200 bytes for each. The largest real answer, getScopes of a KM with
# thousands of scopes, holds about ten a scope (the return element and its xsi:type, the
# name, display name, description and a few claims): 5,000 scopes are 50,000. Measured,
# 100,000 tiny elements take about 10 MB of tree and 0.1 s to parse.
KM_ANSWER_NODES = 100_000
# One base file that needs JSON5 (comments, trailing commas; plain JSON is read by the
# standard library's C parser and needs no such budget): json5's parser is pure Python
# and slow, up to 47 us a byte (6 s of CPU for 128 KiB of dense arrays, 0.7 s for 128 KiB
# of one string, measured with json5 0.17), so its bytes are its CPU budget: at most 1.5 s
# for one file, and each file is parsed once. The sample site.json is 1 KB, a stock one
# with its comments a few KB; the store's stock locale files are plain JSON.
JSON5_BYTES = 32 * 1024

# --- Structure --------------------------------------------------------------------------

# Nesting of a manifest (YAML or JSON), a base JSON5 file or an XML file. A Kubernetes
# object nests about 10 deep, site.json 4, identity.xml 8.
NESTING_DEPTH = 64
# Nodes of one YAML stream after alias expansion: a 1 KB "billion laughs" document
# expands past this long before it can take memory, while a manifest of a thousand
# resources has about 50,000; composed, each node costs obreg about 600 bytes.
YAML_NODES = 200_000
# Certificates in one source (a PEM bundle) and in one truststore: Mozilla's whole root
# program is about 150; a client truststore of an Open Banking directory holds a few.
CERTIFICATES_PER_SOURCE = 5_000
CERTIFICATES_PER_TRUSTSTORE = 5_000
# Entries of one folder `obreg import` lists in a home (repository/, the identity and
# service provider folders): each provider file is read, parsed and reported on, so its
# number bounds that work. A Key Manager holds a handful of providers (the store's, the
# OB directory's, a few of the product's own); a WSO2 repository/ holds about ten.
IMPORT_FOLDER_ENTRIES = 256

# --- Work -------------------------------------------------------------------------------

# Key-derivation iterations of a base keystore (a PKCS12's MAC and PBE parameters), all
# its counts together, since a key is derived for each: keytool writes 10,000 for each of
# two or three; Java refuses a count over 5,000,000. Each iteration is one hash, so this
# bounds the CPU a base keystore can take to well under a second.
KDF_ITERATIONS = 1_000_000
# Signature checks while linking certificates to their issuers: one per certificate and
# candidate issuer of the same name, at most this many candidates each.
ISSUER_CANDIDATES = 8
# Size of a public key obreg verifies a signature with: an RSA modulus or a DSA prime of
# at most this many bits. A check costs about the cube of the size (0.1 ms at 3072 bits,
# a few ms at 8192); the largest CA keys in use are 4096-bit RSA. OpenSSL itself refuses
# RSA moduli over 16,384 bits. An RSA public exponent is bounded too (at most 2^32,
# certificates.py), as OpenSSL bounds it only for moduli over 3072 bits.
SIGNATURE_KEY_BITS = 8192

# --- Names ------------------------------------------------------------------------------

# Characters of one alias read from a base keystore: keytool's aliases are short names
# (the stock truststores' longest is under 40); Java writes an alias of at most 65,535
# bytes of modified UTF-8, which this keeps far away whatever the characters.
ALIAS_CHARACTERS = 255

# --- Time -------------------------------------------------------------------------------

# One render of one workload's files, checked between steps: with every budget above a
# render takes well under a second; this stops what no budget foresaw.
RENDER_SECONDS = 30.0
