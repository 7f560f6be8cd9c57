"""The CRDs in crds/ as JSON Schemas, and YAML loading that keeps source positions.

Kubernetes checks a custom resource against its CRD's openAPIV3Schema, but a structural schema may
not say `additionalProperties: false`: the API server silently prunes unknown fields instead. That
is right for a server, wrong for a user checking a manifest, so to_json_schema() turns the CRD
schema into a strict JSON Schema (draft 7):
  - every object schema without properties/additionalProperties gets `additionalProperties: false`,
    so an unknown or misspelt field is an error, as in siteplane's own decoder;
  - x-kubernetes-* keys are dropped (CEL rules are mirrored by oneOf/anyOf/not in the CRDs), except
    `x-kubernetes-list-type: set`, which becomes `uniqueItems: true`;
  - `metadata` gets the ObjectMeta rules the API server enforces itself (namespace, labels,
    annotations), keeping the CRD's own rules for metadata.name;
  - apiVersion, kind and metadata become required.
"""

import copy
import datetime
import glob
import ipaddress
import json
import os
import re

import jsonschema
import yaml

GROUP = "siteplane.io"
VERSION = "v1alpha1"
API_VERSION = GROUP + "/" + VERSION
# kind -> plural, the resource name of the kind in the siteplane.io group.
KINDS = {"Site": "sites", "Binding": "bindings", "Certificate": "certificates", "Issuer": "issuers"}

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# RFC 3339 date-time as Kubernetes writes it (metav1.Time): 2026-11-25T06:39:51Z.
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

# Kubernetes label/annotation keys: optional DNS-subdomain prefix and '/', then a name.
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
_KEY_PREFIX = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"

OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string", "maxLength": 63, "pattern": DNS1123_LABEL},
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": "^" + _KEY_PREFIX + _QUALIFIED_NAME + "$"},
            "additionalProperties": {
                "type": "string", "maxLength": 63, "pattern": "^(" + _QUALIFIED_NAME + ")?$"},
        },
        "annotations": {
            "type": "object",
            "propertyNames": {"pattern": "^" + _KEY_PREFIX + _QUALIFIED_NAME + "$"},
            "additionalProperties": {"type": "string"},
        },
        "generation": {"type": "integer", "minimum": 0},
        "resourceVersion": {"type": "string"},
        "uid": {"type": "string"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
    },
}


class Loader(yaml.SafeLoader):
    """YAML 1.1 safe loading without timestamp resolution and with duplicate keys rejected.

    A creationTimestamp must stay a string, as it is in JSON; and a duplicate key, which PyYAML
    would silently resolve to the last value, is an error (siteplane's decoder rejects it too).
    """


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found duplicate key %r (first at line %d)" % (key, seen[key].line + 1),
                key_node.start_mark)
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class Document:
    """One YAML document of a file: its data and its node tree (for line:column of a path)."""

    def __init__(self, path, index, node, data):
        self.path = path
        self.index = index
        self.node = node
        self.data = data

    def position(self, field_path):
        """file:line:column of the deepest node along field_path (a list of keys and indexes)."""
        node = self.node
        for part in field_path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        child = value_node
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    child = node.value[part]
            if child is None:
                break
            node = child
        mark = node.start_mark
        return "%s:%d:%d" % (self.path, mark.line + 1, mark.column + 1)

    def describe(self):
        """'Binding "contoso-https"' or 'document 2' when the document has no kind/name."""
        if isinstance(self.data, dict):
            kind = self.data.get("kind")
            metadata = self.data.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            if isinstance(kind, str) and isinstance(name, str):
                return '%s "%s"' % (kind, name)
        return "document %d" % (self.index + 1)


def load_documents(path, display_path=None):
    """Every non-empty document of a YAML file; raises yaml.YAMLError with the position."""
    with open(path, "rb") as stream:
        text = stream.read().decode("utf-8")
    loader = Loader(text)
    loader.name = display_path or path
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            if data is not None:
                documents.append(Document(display_path or path, len(documents), node, data))
    finally:
        loader.dispose()
    return documents


def format_checker():
    """Formats used by the CRDs: ipv4 and ipv6 (built in) and RFC 3339 date-time."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value):
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return True

    # Kubernetes' ipv4/ipv6 formats take plain literals only: no IPv6 zone ("fe80::1%eth0").
    @checker.checks("ipv6", raises=ValueError)
    def _ipv6(value):
        if not isinstance(value, str):
            return True
        return "%" not in value and ipaddress.IPv6Address(value) is not None

    return checker


def to_json_schema(schema):
    """The strict JSON Schema equivalent of one CRD schema node (see the module docstring)."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (schema.get("type") == "object" and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def object_json_schema(kind, open_api_schema):
    """The JSON Schema a whole object of `kind` (apiVersion, kind, metadata, spec, status) meets."""
    schema = to_json_schema(open_api_schema)
    properties = schema.setdefault("properties", {})
    metadata = copy.deepcopy(OBJECT_META)
    crd_name = open_api_schema.get("properties", {}).get("metadata", {}).get(
        "properties", {}).get("name")
    if crd_name:
        metadata["properties"]["name"] = to_json_schema(crd_name)
    properties["metadata"] = metadata
    properties["apiVersion"] = dict(properties.get("apiVersion", {}), enum=[API_VERSION])
    properties["kind"] = dict(properties.get("kind", {}), enum=[kind])
    envelope = ["apiVersion", "kind", "metadata"]
    schema["required"] = envelope + [f for f in schema.get("required", []) if f not in envelope]
    return schema


def crd_files(source_dir):
    return sorted(glob.glob(os.path.join(source_dir, "crds", "*.yaml")) +
                  glob.glob(os.path.join(source_dir, "crds", "*.yml")))


def load_crds(source_dir):
    """kind -> (Document of the CRD). Raises ValueError naming the file when a CRD is missing."""
    crds = {}
    for path in crd_files(source_dir):
        for document in load_documents(path, os.path.relpath(path, source_dir)):
            data = document.data
            if isinstance(data, dict) and data.get("kind") == "CustomResourceDefinition":
                kind = data.get("spec", {}).get("names", {}).get("kind")
                if kind in crds:
                    raise ValueError("%s: a second CRD for kind %s" % (document.path, kind))
                crds[kind] = document
    missing = sorted(set(KINDS) - set(crds))
    if missing:
        raise ValueError("crds/: no CustomResourceDefinition for %s" % ", ".join(missing))
    return crds


def open_api_schema(crd):
    """The openAPIV3Schema of the served v1alpha1 version of a CRD object."""
    for version in crd["spec"]["versions"]:
        if version.get("name") == VERSION:
            return version["schema"]["openAPIV3Schema"]
    raise KeyError("no version %s" % VERSION)


class SchemaValidator:
    """Validates siteplane objects against the CRDs' schemas, made strict as described above."""

    def __init__(self, source_dir):
        self.crds = load_crds(source_dir)
        checker = format_checker()
        self.validators = {}
        for kind, document in self.crds.items():
            schema = object_json_schema(kind, open_api_schema(document.data))
            jsonschema.Draft7Validator.check_schema(schema)
            self.validators[kind] = jsonschema.Draft7Validator(schema, format_checker=checker)

    def errors(self, document):
        """Every schema error of a document as (position, field path, message), sorted."""
        data = document.data
        if not isinstance(data, dict):
            return [(document.position([]), "", "a manifest must be a mapping, got %s"
                     % type(data).__name__)]
        if data.get("apiVersion") != API_VERSION:
            return [(document.position(["apiVersion"]), "apiVersion",
                     "must be %s, got %r" % (API_VERSION, data.get("apiVersion")))]
        kind = data.get("kind")
        if kind not in self.validators:
            return [(document.position(["kind"]), "kind", "must be one of %s, got %r"
                     % (", ".join(sorted(KINDS)), kind))]
        found = []
        for error in self.validators[kind].iter_errors(data):
            path = list(error.absolute_path)
            found.append((document.position(path), format_path(path), _message(error)))
        return sorted(set(found))


def _message(error):
    """jsonschema's message, except for oneOf/anyOf/not, whose default repeats the whole object."""
    if error.validator == "oneOf":
        return "must match exactly one of: " + " | ".join(
            describe(s) for s in error.validator_value)
    if error.validator == "anyOf":
        return "must match at least one of: " + " | ".join(
            describe(s) for s in error.validator_value)
    if error.validator == "not":
        return "must not match: " + describe(error.validator_value)
    return error.message


def describe(schema):
    """A short reading of a oneOf/anyOf/not branch: 'certificateRef is set and protocol is
    "https"'."""
    parts = []
    if "enum" in schema:
        parts.append("is " + " or ".join(json.dumps(value) for value in schema["enum"]))
    if "format" in schema:
        parts.append("is an %s literal" % schema["format"]
                     if schema["format"] in ("ipv4", "ipv6") else "has format " + schema["format"])
    if "minItems" in schema:
        parts.append("has at least %d item(s)" % schema["minItems"])
    for name in schema.get("required", []):
        parts.append("%s is set" % name)
    for name, sub in schema.get("properties", {}).items():
        parts.append("%s %s" % (name, describe(sub)))
    for key, joiner in (("anyOf", " or "), ("oneOf", " xor "), ("allOf", " and ")):
        if key in schema:
            parts.append("(" + joiner.join(describe(sub) for sub in schema[key]) + ")")
    if "not" in schema:
        parts.append("not (%s)" % describe(schema["not"]))
    return " and ".join(parts) or "anything"


def format_path(path):
    """['spec', 'ssl', 'clientCARefs', 1, 'name'] -> 'spec.ssl.clientCARefs[1].name'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out
