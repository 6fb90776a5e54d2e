"""The three resources' schema (pydantic models, the CRDs generated from them) and the
parsing of a raw object into a typed resource or the problems that refuse it. Pure."""
