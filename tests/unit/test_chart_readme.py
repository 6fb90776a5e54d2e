"""charts/obreg/README.md is generated (hack/chart_values_readme.py) from the values
schema and values.yaml, and every value is documented there: no undescribed schema
property, no values.yaml key the schema does not know."""

from __future__ import annotations

import json

import yaml

import chart_values_readme as generator


def test_the_committed_values_readme_is_the_generated_one() -> None:
    assert generator.README.read_text() == generator.generate(), (
        "charts/obreg/README.md is stale: run python hack/chart_values_readme.py"
    )


def test_every_value_has_a_schema_entry_with_a_description() -> None:
    schema = json.loads((generator.CHART / "values.schema.json").read_text())
    values = yaml.safe_load((generator.CHART / "values.yaml").read_text())
    assert generator.undocumented(schema, schema) == []
    assert generator.unschematized(values, schema, schema) == []


def test_each_value_is_a_row_with_its_type_default_and_description() -> None:
    text = generator.generate()
    assert '| `image.registry` | string | `""` | A registry (mirror) prefix' in text
    assert '| `resources.requests.ephemeral-storage` | string or number | `"64Mi"` |' in text
    assert "| `global` | object | (unset) |" in text
    assert "| `crds.enabled` | boolean | `true` | Render the CRDs;" in text
    assert "| `crds.keep` | boolean | `true` | Annotate them helm.sh/resource-policy: keep" in text
