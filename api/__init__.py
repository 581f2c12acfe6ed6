"""Kubernetes kinds declared once, and everything derived from the declarations.

Entry points (pure functions, no I/O):

- `api.catalog.REGISTRY`: types and resources; `resource(group, version, plural)`, `require(...)`,
  `resource_for_kind`, `resource_for_api_version`, `group_versions()`; `catalog.type_name_for(apiVersion, kind)`.
- `api.structure.decode`: unknown fields (for fieldValidation) and JSON type errors; nulls dropped, quantities
  canonicalized. `api.defaulting.apply_defaults`, `api.validation.validate` / `validate_update`.
- `api.strategy`: status/generation handling on create/update, `/status` and `/scale` views, pod QoS.
- `api.patch`: `json_patch.apply`, `merge_patch.apply`, `strategic.apply` (+ `create_two_way`,
  `create_three_way`), `apply.apply_builtin` / `apply_custom` for server-side apply.
- `api.tables.table`, `api.fields.compile_selector`, `api.labels.parse` / `from_label_selector`.
- `api.openapi.v2`, `v3`, `v3_index`; `api.discovery` documents; `api.protobuf.decode` for kubectl's bodies.
- `api.crd`: CRDs turned into served resources with schema decoding, defaulting, validation and OpenAPI.
- `api.conversion`: versions sharing storage (HPA v1/v2, Event v1/events.k8s.io); `api.status`: Status bodies.
"""
