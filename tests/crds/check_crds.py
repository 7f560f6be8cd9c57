#!/usr/bin/env python3
"""Checks the CustomResourceDefinitions in crds/ and the manifests that must meet them.

    check_crds.py crds       every CRD is well-formed: a structural schema Kubernetes accepts, CEL
                             rules and printer columns that name fields the schema has
    check_crds.py cases      the schema accepts and rejects what tests/crds/schema_cases.yaml says
    check_crds.py parity     `siteplane validate` gives the same verdict on those cases (skipped,
                             exit 77, while the binary has no validate command)
    check_crds.py manifests  every object under manifests/ (or --manifests DIR) meets its kind's
                             schema, and the set is coherent (references resolve, roots exist,
                             loopback only)
    check_crds.py invalid    every file in tests/manifests/invalid/ marked "# schema: reject"
                             is rejected by the schema
    check_crds.py cli        `siteplane validate manifests/` accepts every example (skipped, exit
                             77, while the binary has no validate command)

Options: --source-dir (repository root) and --binary-dir (CMake build directory); both default to
SITEPLANE_SOURCE_DIR / SITEPLANE_BINARY_DIR from the environment. Exit 0 when the check passes,
1 with one line per problem when it fails.
"""

import argparse
import copy
import glob
import ipaddress
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
    import yaml
except ImportError as missing:  # the Debian packages python3-jsonschema and python3-yaml
    sys.exit("check_crds: %s (apt-get install python3-jsonschema python3-yaml)" % missing)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crd_schema  # noqa: E402  (found next to this file)
from crd_schema import format_path  # noqa: E402

SKIP = 77  # ctest SKIP_RETURN_CODE

# The keys apiextensions.k8s.io/v1 JSONSchemaProps accepts in a CRD (no $ref, definitions,
# patternProperties, dependencies, additionalItems: v1 CRDs reject them).
SCHEMA_KEYS = {
    "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf",
    "anyOf", "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations",
}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
# A structural schema forbids these inside allOf/anyOf/oneOf/not.
JUNCTOR_FORBIDDEN = {"description", "title", "type", "default", "additionalProperties",
                     "nullable"}
JUNCTORS = ("allOf", "anyOf", "oneOf")
VALIDATION_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired",
                      "FieldValueDuplicate"}
COLUMN_TYPES = {"integer", "number", "string", "boolean", "date"}
# ObjectMeta fields a printer column may show (the CRD schema does not describe them).
METADATA_COLUMNS = {"name": "string", "namespace": "string", "creationTimestamp": "date",
                    "generation": "integer", "resourceVersion": "string", "uid": "string"}
PYTHON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}

# The contract every engineer codes against (DESIGN.md and the resource schema): the columns
# `kubectl get` shows by default, in this order before AGE ...
REQUIRED_COLUMNS = {
    "Site": ["ID", "Root", "Upstream", "Require SSL", "Client Cert", "Ready"],
    "Binding": ["Site", "Protocol", "Address", "Port", "Host", "Certificate", "Programmed"],
    "Certificate": ["Ready", "Not After", "Thumbprint", "Issuer"],
    "Issuer": ["Ready"],
}
# ... and the defaults that do not depend on another field. Every `default:` in a CRD must be
# listed here, so that a default cannot be added or changed without changing the contract.
EXPECTED_DEFAULTS = {
    "Site": {"spec.ssl": {}, "spec.ssl.requireSSL": False, "spec.ssl.redirectHTTP": False,
             "spec.ssl.require128BitCiphers": False, "spec.ssl.clientCertificate": "Ignore",
             "spec.ssl.minTLSVersion": "1.2"},
    "Binding": {},
    "Certificate": {"spec.duration": "2160h", "spec.privateKey": {},
                    "spec.privateKey.algorithm": "ECDSA", "spec.privateKey.rotationPolicy": "Never",
                    "spec.isCA": False, "spec.issuerRef.kind": "Issuer"},
    "Issuer": {},
}


class Problems:
    """Collects every problem of a check, so that one run reports all of them."""

    def __init__(self):
        self.lines = []

    def add(self, where, message):
        self.lines.append("%s: %s" % (where, message))

    def report(self, what):
        for line in self.lines:
            print(line)
        if self.lines:
            print("FAILED: %d problem(s) in %s" % (len(self.lines), what))
            return 1
        return 0


# ----------------------------------------------------------------------------------------------
# crds: structural schemas, CEL rule references, printer columns

CRD_ENVELOPE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"enum": ["apiextensions.k8s.io/v1"]},
        "kind": {"enum": ["CustomResourceDefinition"]},
        "metadata": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": {"type": "object"},
                           "annotations": {"type": "object"}},
        },
        "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["group", "names", "scope", "versions"],
            "properties": {
                "group": {"enum": [crd_schema.GROUP]},
                "scope": {"enum": ["Namespaced"]},
                "preserveUnknownFields": {"enum": [False]},
                "names": {
                    "type": "object", "additionalProperties": False,
                    "required": ["kind", "listKind", "plural", "singular", "categories"],
                    "properties": {
                        "kind": {"enum": sorted(crd_schema.KINDS)},
                        "listKind": {"type": "string"},
                        "plural": {"type": "string"},
                        "singular": {"type": "string"},
                        "shortNames": {"type": "array", "items": {
                            "type": "string", "pattern": crd_schema.DNS1123_LABEL}},
                        "categories": {"type": "array", "contains": {"const": "siteplane"},
                                       "items": {"type": "string"}},
                    },
                },
                "versions": {
                    "type": "array", "minItems": 1, "maxItems": 1,
                    "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["name", "served", "storage", "schema", "subresources"],
                        "properties": {
                            "name": {"enum": [crd_schema.VERSION]},
                            "served": {"enum": [True]},
                            "storage": {"enum": [True]},
                            "subresources": {"enum": [{"status": {}}]},
                            "schema": {
                                "type": "object", "additionalProperties": False,
                                "required": ["openAPIV3Schema"],
                                "properties": {"openAPIV3Schema": {"type": "object"}},
                            },
                            "additionalPrinterColumns": {
                                "type": "array",
                                "items": {
                                    "type": "object", "additionalProperties": False,
                                    "required": ["name", "type", "jsonPath"],
                                    "properties": {
                                        "name": {"type": "string", "minLength": 1},
                                        "type": {"enum": sorted(COLUMN_TYPES)},
                                        "format": {"type": "string"},
                                        "description": {"type": "string"},
                                        "priority": {"type": "integer", "minimum": 0},
                                        "jsonPath": {"type": "string", "pattern": r"^\."},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def check_crds(args):
    problems = Problems()
    try:
        crds = crd_schema.load_crds(args.source_dir)
    except (ValueError, yaml.YAMLError) as error:
        print(error)
        return 1
    files = crd_schema.crd_files(args.source_dir)
    for path in files:
        documents = crd_schema.load_documents(path, os.path.relpath(path, args.source_dir))
        if len(documents) != 1:
            problems.add(os.path.relpath(path, args.source_dir),
                         "expected exactly one CustomResourceDefinition, found %d documents"
                         % len(documents))
    for kind in sorted(crds):
        document = crds[kind]
        crd = document.data
        where = "%s (%s)" % (document.path, kind)
        for error in jsonschema.Draft7Validator(CRD_ENVELOPE).iter_errors(crd):
            path = list(error.absolute_path)
            problems.add(document.position(path), "%s: %s" % (format_path(path), error.message))
        names = crd.get("spec", {}).get("names", {})
        plural = crd_schema.KINDS.get(kind)
        expected = {"plural": plural, "singular": kind.lower(), "listKind": kind + "List"}
        for field, value in expected.items():
            if names.get(field) != value:
                problems.add(where, "spec.names.%s must be %r, got %r"
                             % (field, value, names.get(field)))
        if crd.get("metadata", {}).get("name") != "%s.%s" % (plural, crd_schema.GROUP):
            problems.add(where, "metadata.name must be %s.%s" % (plural, crd_schema.GROUP))
        try:
            schema = crd_schema.open_api_schema(crd)
        except (KeyError, TypeError):
            problems.add(where, "no openAPIV3Schema for version %s" % crd_schema.VERSION)
            continue
        check_root(schema, kind, where, problems)
        check_node(schema, "openAPIV3Schema", where, problems, root=True)
        check_metadata(schema.get("properties", {}).get("metadata", {}), where, problems)
        try:
            jsonschema.Draft7Validator.check_schema(crd_schema.to_json_schema(schema))
        except jsonschema.SchemaError as error:
            problems.add(where, "not a valid JSON Schema once converted: %s" % error.message)
        version = crd["spec"]["versions"][0]
        check_columns(version.get("additionalPrinterColumns", []), schema, where, problems)
        check_contract(kind, version.get("additionalPrinterColumns", []), schema, where,
                       problems)
    print("checked %d CRD file(s): %s" % (len(files), ", ".join(sorted(crds))))
    return problems.report("crds/")


def check_contract(kind, columns, schema, where, problems):
    shown = [column.get("name") for column in columns if not column.get("priority")]
    if shown[:len(REQUIRED_COLUMNS[kind])] != REQUIRED_COLUMNS[kind]:
        problems.add(where, "default columns must start with %s, got %s"
                     % (", ".join(REQUIRED_COLUMNS[kind]), ", ".join(map(str, shown))))
    defaults = {}
    collect_defaults(schema.get("properties", {}).get("spec", {}), "spec", defaults)
    if defaults != EXPECTED_DEFAULTS[kind]:
        for field in sorted(set(defaults) | set(EXPECTED_DEFAULTS[kind])):
            have = defaults.get(field, "(none)")
            want = EXPECTED_DEFAULTS[kind].get(field, "(none)")
            if have != want:
                problems.add(where, "default of %s is %r, the contract says %r"
                             % (field, have, want))


def collect_defaults_anywhere(node):
    if not isinstance(node, dict):
        return False
    if "default" in node:
        return True
    children = list(node.get("properties", {}).values())
    children += [node[key] for key in ("items", "additionalProperties", "not") if key in node]
    children += [sub for key in JUNCTORS for sub in node.get(key, [])]
    return any(collect_defaults_anywhere(child) for child in children)


def collect_defaults(node, path, defaults):
    if "default" in node:
        defaults[path] = node["default"]
    for name, sub in node.get("properties", {}).items():
        collect_defaults(sub, "%s.%s" % (path, name), defaults)
    if isinstance(node.get("items"), dict):
        collect_defaults(node["items"], path + "[*]", defaults)


# With the status subresource, Kubernetes allows only these keys at the root of the schema (so that
# properties["status"] can be extracted without losing validation).
ROOT_KEYS = {"description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum",
             "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
             "uniqueItems", "multipleOf", "required", "items", "properties", "externalDocs",
             "example", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations"}


def check_root(schema, kind, where, problems):
    for key in schema:
        if key not in ROOT_KEYS:
            problems.add(where, "openAPIV3Schema: %s is not allowed at the root with the status "
                         "subresource" % key)
    properties = schema.get("properties", {})
    for field in ("apiVersion", "kind", "metadata"):
        if collect_defaults_anywhere(properties.get(field, {})):
            problems.add(where, "openAPIV3Schema.%s: defaults are forbidden in %s" % (field, field))
    for field in ("apiVersion", "kind", "metadata", "spec", "status"):
        if field not in properties:
            problems.add(where, "openAPIV3Schema.properties has no %s" % field)
    if "spec" not in schema.get("required", []):
        problems.add(where, "openAPIV3Schema must require spec")


def check_metadata(metadata, where, problems):
    """Kubernetes allows only `type: object` and restrictions on metadata.name and
    metadata.generateName; anything else, a description included, makes the schema invalid."""
    for key in metadata:
        if key not in ("type", "properties"):
            problems.add(where, "metadata may not set %s (only type and properties.name)" % key)
    for name, sub in metadata.get("properties", {}).items():
        if name not in ("name", "generateName"):
            problems.add(where, "metadata.%s may not be restricted (only name, generateName)"
                         % name)
        if name == "name" and sub.get("pattern") != crd_schema.DNS1123_LABEL:
            problems.add(where, "metadata.name must have the DNS-1123 label pattern")


def check_node(node, path, where, problems, root=False):
    """A node of the structural part of a schema (not inside a junctor)."""
    if not isinstance(node, dict):
        problems.add(where, "%s: a schema must be a mapping" % path)
        return
    for key in node:
        if key not in SCHEMA_KEYS:
            problems.add(where, "%s: unknown schema keyword %s" % (path, key))
    if not (node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields")) and node.get("type") not in TYPES:
        problems.add(where, "%s: a structural schema needs a type, got %r"
                     % (path, node.get("type")))
    if not root and not node.get("description") and path != "openAPIV3Schema.metadata":
        problems.add(where, "%s: needs a description (kubectl explain shows it)" % path)
    if "properties" in node and "additionalProperties" in node:
        problems.add(where, "%s: properties and additionalProperties are exclusive in a CRD" % path)
    if node.get("uniqueItems"):
        problems.add(where, "%s: uniqueItems is forbidden; use x-kubernetes-list-type: set" % path)
    kind = node.get("type")
    if kind == "array" and "items" not in node:
        problems.add(where, "%s: an array needs items" % path)
    if kind != "object" and ("properties" in node or "required" in node):
        problems.add(where, "%s: properties/required on a %s" % (path, kind))
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            problems.add(where, "%s: required field %s is not in properties" % (path, name))
    if "pattern" in node:
        check_pattern(node["pattern"], path, where, problems)
    check_values(node, path, where, problems)
    check_list_type(node, path, where, problems)
    check_validations(node, path, where, problems)
    for name, sub in node.get("properties", {}).items():
        check_node(sub, "%s.%s" % (path, name), where, problems)
    if isinstance(node.get("items"), dict):
        check_node(node["items"], path + "[*]", where, problems)
    if isinstance(node.get("additionalProperties"), dict):
        check_node(node["additionalProperties"], path + "{*}", where, problems)
    for junctor in JUNCTORS:
        for index, branch in enumerate(node.get(junctor, [])):
            check_junctor(branch, node, "%s.%s[%d]" % (path, junctor, index), where, problems)
    if "not" in node:
        check_junctor(node["not"], node, path + ".not", where, problems)


def check_junctor(branch, outer, path, where, problems):
    """A branch of allOf/anyOf/oneOf/not: value validations only, on fields the outer node has."""
    if not isinstance(branch, dict):
        problems.add(where, "%s: a schema must be a mapping" % path)
        return
    for key in branch:
        if key not in SCHEMA_KEYS:
            problems.add(where, "%s: unknown schema keyword %s" % (path, key))
        elif key in JUNCTOR_FORBIDDEN or key.startswith("x-kubernetes-"):
            problems.add(where, "%s: %s is not allowed inside allOf/anyOf/oneOf/not" % (path, key))
    outer_properties = outer.get("properties", {})
    for name in branch.get("required", []):
        if name not in outer_properties:
            problems.add(where, "%s: requires %s, which the schema does not specify" % (path, name))
    for name, sub in branch.get("properties", {}).items():
        if name not in outer_properties:
            problems.add(where, "%s: names %s, which the schema does not specify" % (path, name))
        else:
            check_junctor(sub, outer_properties[name], "%s.%s" % (path, name), where, problems)
    if "items" in branch:
        if "items" not in outer:
            problems.add(where, "%s: items, which the schema does not specify" % path)
        else:
            check_junctor(branch["items"], outer["items"], path + "[*]", where, problems)
    if "pattern" in branch:
        check_pattern(branch["pattern"], path, where, problems)
    merged = dict(branch, type=outer.get("type"))
    check_values(merged, path, where, problems)
    for junctor in JUNCTORS:
        for index, sub in enumerate(branch.get(junctor, [])):
            check_junctor(sub, outer, "%s.%s[%d]" % (path, junctor, index), where, problems)
    if "not" in branch:
        check_junctor(branch["not"], outer, path + ".not", where, problems)


def check_pattern(pattern, path, where, problems):
    """Compiles in Python and avoids what Go's RE2 (the API server's engine) lacks."""
    try:
        re.compile(pattern)
    except re.error as error:
        problems.add(where, "%s: pattern does not compile: %s" % (path, error))
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
        problems.add(where, "%s: pattern uses lookaround or backreferences (RE2 has neither)"
                     % path)


def check_values(node, path, where, problems):
    """enum values and the default have the node's type and meet its constraints."""
    kind = node.get("type")
    for value in node.get("enum", []):
        if not value_has_type(value, kind):
            problems.add(where, "%s: enum value %r is not a %s" % (path, value, kind))
    if "default" in node:
        schema = crd_schema.to_json_schema(node)
        checker = crd_schema.format_checker()
        for error in jsonschema.Draft7Validator(schema, format_checker=checker).iter_errors(
                node["default"]):
            problems.add(where, "%s: default %r is invalid: %s"
                         % (path, node["default"], error.message))


def value_has_type(value, kind):
    if kind is None:
        return True
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, PYTHON_TYPES[kind])


def check_list_type(node, path, where, problems):
    list_type = node.get("x-kubernetes-list-type")
    if list_type is None:
        if "x-kubernetes-list-map-keys" in node:
            problems.add(where, "%s: x-kubernetes-list-map-keys needs list-type map" % path)
        return
    if list_type not in ("atomic", "set", "map") or node.get("type") != "array":
        problems.add(where, "%s: x-kubernetes-list-type %r on a %s"
                     % (path, list_type, node.get("type")))
        return
    items = node.get("items", {})
    if list_type == "set" and items.get("type") in ("object", "array"):
        problems.add(where, "%s: a set lists scalars" % path)
    if list_type == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        if not keys:
            problems.add(where, "%s: list-type map needs x-kubernetes-list-map-keys" % path)
        for key in keys:
            if key not in items.get("required", []) and "default" not in items.get(
                    "properties", {}).get(key, {}):
                problems.add(where, "%s: map key %s must be required or defaulted" % (path, key))


CEL_SELF_REFERENCE = re.compile(r"\bself((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(\s*\()?")


def check_validations(node, path, where, problems):
    """x-kubernetes-validations: well-formed entries whose rules name fields the node has."""
    rules = node.get("x-kubernetes-validations")
    if rules is None:
        return
    if not isinstance(rules, list) or not rules:
        problems.add(where, "%s: x-kubernetes-validations must be a non-empty list" % path)
        return
    for index, rule in enumerate(rules):
        at = "%s.x-kubernetes-validations[%d]" % (path, index)
        if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
            problems.add(where, "%s: needs a rule" % at)
            continue
        for key in rule:
            if key not in ("rule", "message", "messageExpression", "fieldPath", "reason",
                           "optionalOldSelf"):
                problems.add(where, "%s: unknown key %s" % (at, key))
        message = rule.get("message", "")
        if not message.strip() and not rule.get("messageExpression"):
            problems.add(where, "%s: needs a message users can act on" % at)
        if "\n" in message or "\r" in message or (("\n" in rule["rule"]) and not message):
            problems.add(where, "%s: a message must be one line (and multi-line rules need one)"
                         % at)
        if "reason" in rule and rule["reason"] not in VALIDATION_REASONS:
            problems.add(where, "%s: reason %r is not one of %s"
                         % (at, rule["reason"], ", ".join(sorted(VALIDATION_REASONS))))
        if "fieldPath" in rule:
            field = rule["fieldPath"]
            if not field.startswith(".") or resolve_fields(node, field[1:].split(".")) is None:
                problems.add(where, "%s: fieldPath %s is not a field of %s" % (at, field, path))
        text = rule["rule"]
        if not balanced(text):
            problems.add(where, "%s: unbalanced parentheses, brackets or quotes in %r"
                         % (at, text))
        for match in CEL_SELF_REFERENCE.finditer(strip_strings(text)):
            fields = match.group(1)[1:].split(".")
            if match.group(2):  # self.a.size(): the last name is a method, not a field
                fields = fields[:-1]
            if fields and resolve_fields(node, fields) is None:
                problems.add(where, "%s: rule names self.%s, which %s does not have"
                             % (at, ".".join(fields), path))


def resolve_fields(node, fields):
    for field in fields:
        if not isinstance(node, dict) or field not in node.get("properties", {}):
            return None
        node = node["properties"][field]
    return node


def strip_strings(text):
    """The rule with every string literal replaced by 0, so quotes and brackets in them vanish."""
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "0", text)


def balanced(text):
    stack = []
    pairs = {")": "(", "]": "["}
    for char in strip_strings(text):
        if char in "([":
            stack.append(char)
        elif char in ")]":
            if not stack or stack.pop() != pairs[char]:
                return False
        elif char in "'\"":
            return False  # an unterminated string literal survives strip_strings
    return not stack


COLUMN_SEGMENT = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)(\[\?\(@\.([A-Za-z_]+)=="([^"]*)"\)\])?$')


def check_columns(columns, schema, where, problems):
    """Printer columns name fields the schema has, with a matching type; AGE comes last."""
    names = set()
    for index, column in enumerate(columns):
        at = "additionalPrinterColumns[%d] (%s)" % (index, column.get("name"))
        name = column.get("name", "").lower()
        if name in names:
            problems.add(where, "%s: duplicate column name" % at)
        names.add(name)
        target = resolve_column(column.get("jsonPath", ""), schema)
        if isinstance(target, str):
            problems.add(where, "%s: jsonPath %s: %s" % (at, column.get("jsonPath"), target))
            continue
        field_type, field_format = target
        wanted = {"integer": ("integer",), "number": ("integer", "number"),
                  "boolean": ("boolean",), "string": ("string",), "date": ("string",)}
        if field_type not in wanted.get(column.get("type"), ()):
            problems.add(where, "%s: a %s column shows a %s field"
                         % (at, column.get("type"), field_type))
        if column.get("type") == "date" and field_format != "date-time":
            problems.add(where, "%s: a date column needs a date-time field" % at)
    if not columns or columns[-1].get("jsonPath") != ".metadata.creationTimestamp":
        problems.add(where, "the last printer column must be Age (.metadata.creationTimestamp)")


def resolve_column(json_path, schema):
    """(type, format) of the field a simple JSONPath names, or a string saying why it can't."""
    if not json_path.startswith("."):
        return "must start with '.'"
    segments = re.split(r"\.(?![^\[]*\])", json_path[1:])
    if segments and segments[0] == "metadata":
        if len(segments) == 2 and segments[1] in METADATA_COLUMNS:
            kind = METADATA_COLUMNS[segments[1]]
            return ("string", "date-time") if kind == "date" else (kind, None)
        return "metadata columns may show %s" % ", ".join(sorted(METADATA_COLUMNS))
    node = schema
    for segment in segments:
        match = COLUMN_SEGMENT.match(segment)
        if not match:
            return "segment %r is not a field name or [?(@.field==\"value\")] filter" % segment
        field, has_filter, filter_field = match.group(1), match.group(2), match.group(3)
        node = node.get("properties", {}).get(field)
        if node is None:
            return "no field %s in the schema" % field
        if has_filter:
            if node.get("type") != "array":
                return "%s is filtered but is not a list" % field
            node = node.get("items", {})
            if filter_field not in node.get("properties", {}):
                return "the items of %s have no field %s" % (field, filter_field)
    if node.get("type") in ("object", "array"):
        return "names a whole %s; a column shows a scalar" % node.get("type")
    return node.get("type"), node.get("format")


# ----------------------------------------------------------------------------------------------
# cases: the schema's own table of accepted and rejected objects

def check_cases(args):
    validator = crd_schema.SchemaValidator(args.source_dir)
    path, bases, cases = load_cases(args)
    problems = Problems()
    for case in cases:
        name = case["name"]
        if case.get("decoder") not in (None, "rejects", "lenient") or (
                case.get("decoder") == "rejects" and "reject" in case):
            problems.add(name, "decoder: must be rejects (only on accepted cases) or lenient")
        data = case_object(bases, case)
        document = crd_schema.Document(path, 0, yaml.compose(yaml.safe_dump(data)), data)
        errors = validator.errors(document)
        paths = [field for _, field, _ in errors]
        if "reject" in case:
            expected = case["reject"]
            if not errors:
                problems.add(name, "accepted, expected an error at %s" % expected)
            elif expected not in paths:
                problems.add(name, "expected an error at %s, got %s"
                             % (expected, "; ".join("%s: %s" % (p, m) for _, p, m in errors)))
        elif errors:
            problems.add(name, "rejected: %s" % "; ".join("%s: %s" % (p, m) for _, p, m in errors))
    rejected = sum(1 for case in cases if "reject" in case)
    print("checked %d schema case(s): %d must be accepted, %d rejected"
          % (len(cases), len(cases) - rejected, rejected))
    return problems.report("schema_cases.yaml")


def load_cases(args):
    """(path, bases, cases) of tests/crds/schema_cases.yaml."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema_cases.yaml")
    table = crd_schema.load_documents(path, os.path.relpath(path, args.source_dir))[0].data
    return path, table["bases"], table["cases"]


def case_object(bases, case):
    """The object of a case: its kind's base with the case's set and unset applied."""
    data = copy.deepcopy(bases[case["kind"]])
    for dotted, value in case.get("set", {}).items():
        set_path(data, dotted, value)
    for dotted in case.get("unset", []):
        unset_path(data, dotted)
    return data


# ----------------------------------------------------------------------------------------------
# parity: siteplane's decoder agrees with the schema on every case

def check_parity(args):
    """Runs every schema case through `siteplane validate`: both validators must give the same
    verdict, except where a case's `decoder:` says the decoder knowingly differs:
      decoder: rejects  -- a rule the schema cannot express (the decoder must reject);
      decoder: lenient  -- a known gap in the decoder (it may accept; reported while it does).
    """
    binary = validate_binary(args)
    if binary is None:
        return SKIP
    _, bases, cases = load_cases(args)
    problems = Problems()
    lenient = []
    with tempfile.TemporaryDirectory(prefix="siteplane-parity-") as directory:
        for case in cases:
            path = os.path.join(directory, "case.yaml")
            with open(path, "w") as stream:
                stream.write("# %s\n" % case["name"])
                yaml.safe_dump(case_object(bases, case), stream, sort_keys=False)
            run = subprocess.run([binary, "validate", path], capture_output=True, text=True,
                                 timeout=60)
            if run.returncode not in (0, 1):
                problems.add(case["name"], "siteplane validate exited %d: %s"
                             % (run.returncode, run.stderr.strip()))
                continue
            decoder_rejects = run.returncode == 1
            expected = case.get("decoder", "rejects" if "reject" in case else "accepts")
            output = (run.stderr or run.stdout).strip().replace(directory + os.sep, "")
            if expected == "lenient":
                if decoder_rejects:
                    print("%s: the decoder now rejects it; drop 'decoder: lenient'" % case["name"])
                else:
                    lenient.append(case["name"])
            elif decoder_rejects != (expected == "rejects"):
                problems.add(case["name"], "the schema %s it but siteplane validate %s: %s"
                             % ("rejects" if "reject" in case else "accepts",
                                "rejects" if decoder_rejects else "accepts", output))
    print("checked %d case(s) through siteplane validate; known decoder gaps: %s"
          % (len(cases), "; ".join(lenient) or "none"))
    return problems.report("parity of crds/ and siteplane validate")


def split_path(dotted):
    parts = []
    for part in dotted.split("."):
        match = re.match(r"^([^\[]+)((?:\[\d+\])*)$", part)
        parts.append(match.group(1))
        parts.extend(int(index) for index in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def set_path(data, dotted, value):
    parts = split_path(dotted)
    for part in parts[:-1]:
        if isinstance(part, str) and part not in data:
            data[part] = {}
        data = data[part]
    data[parts[-1]] = value


def unset_path(data, dotted):
    parts = split_path(dotted)
    for part in parts[:-1]:
        data = data[part]
    del data[parts[-1]]


# ----------------------------------------------------------------------------------------------
# manifests: every example meets the schema and the set works as a whole

def manifest_files(root):
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                found.append(os.path.join(directory, name))
    return sorted(found)


def display_path(path, source_dir):
    """A path relative to the repository when it is inside it, else as absolute."""
    relative = os.path.relpath(path, source_dir)
    return path if relative.startswith("..") else relative


def load_manifests(args, problems):
    """(Document, directory of its file) for every object under manifests/."""
    objects = []
    for path in manifest_files(args.manifests):
        shown = display_path(path, args.source_dir)
        try:
            documents = crd_schema.load_documents(path, shown)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.add(shown, "not valid YAML: %s" % str(error).replace("\n", " "))
            continue
        if not documents:
            problems.add(shown, "declares no object")
        objects.extend((document, os.path.dirname(path)) for document in documents)
    return objects


def check_manifests(args):
    problems = Problems()
    validator = crd_schema.SchemaValidator(args.source_dir)
    objects = load_manifests(args, problems)
    for document, _ in objects:
        report_schema_errors(validator, document, problems)
    if not problems.lines:
        check_coherence(objects, problems, examples=args.examples)
    kinds = {}
    for document, _ in objects:
        kinds[document.data.get("kind")] = kinds.get(document.data.get("kind"), 0) + 1
    print("checked %d object(s) in %d file(s) under %s: %s"
          % (len(objects), len(manifest_files(args.manifests)),
             display_path(args.manifests, args.source_dir),
             ", ".join("%d %s" % (count, kind) for kind, count in sorted(kinds.items()))))
    if args.examples:
        check_readme_snippets(args, validator, problems)
    return problems.report(display_path(args.manifests, args.source_dir))


def report_schema_errors(validator, document, problems):
    for position, field, message in validator.errors(document):
        problems.add(position, "%s: %s" % (" ".join(filter(None, [document.describe(), field])),
                                           message))


SNIPPET = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_snippets(args):
    """(README path, snippet text padded with blank lines so that positions are the README's)
    for every ```yaml block of the READMEs that declares siteplane objects."""
    for readme in ("manifests/README.md", "crds/README.md", "README.md"):
        path = os.path.join(args.source_dir, readme)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        for match in SNIPPET.finditer(text):
            if "apiVersion: " + crd_schema.API_VERSION in match.group(1):
                yield readme, "\n" * text.count("\n", 0, match.start(1)) + match.group(1)


def check_readme_snippets(args, validator, problems):
    """The READMEs' snippets meet the schema too, so the documentation cannot drift from the
    CRDs."""
    count = 0
    for readme, snippet in readme_snippets(args):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as stream:
            stream.write(snippet)
            stream.flush()
            try:
                documents = crd_schema.load_documents(stream.name, readme)
            except yaml.YAMLError as error:
                problems.add(readme, "snippet is not valid YAML: %s"
                             % str(error).replace("\n", " "))
                continue
        for document in documents:
            count += 1
            report_schema_errors(validator, document, problems)
    print("checked %d object(s) in README snippets" % count)


def check_coherence(objects, problems, examples):
    """What the schema cannot see: names unique, references resolve, roots exist; for the
    repository's examples also that they run on loopback without root."""
    index = {}
    for document, directory in objects:
        data = document.data
        key = (data["kind"], data["metadata"].get("namespace", "default"),
               data["metadata"]["name"])
        if key in index:
            problems.add(document.position(["metadata", "name"]), "%s is declared twice (first "
                         "at %s)" % (document.describe(), index[key][0].position(["metadata"])))
        index[key] = (document, directory)

    def lookup(document, kind, field_path):
        data = document.data
        name = data
        for part in field_path:
            name = name[part]
        namespace = data["metadata"].get("namespace", "default")
        target = index.get((kind, namespace, name))
        if target is None:
            problems.add(document.position(field_path), "%s %s: no %s %s/%s in the manifests"
                         % (document.describe(), format_path(field_path), kind, namespace, name))
            return None
        return target[0].data

    site_ids = {}
    for document, directory in objects:
        data = document.data
        spec = data["spec"]
        kind = data["kind"]
        if kind == "Site":
            if "root" in spec:
                root = os.path.join(directory, spec["root"])
                if not os.path.isfile(os.path.join(root, "index.html")):
                    problems.add(document.position(["spec", "root"]), "%s spec.root: %s has no "
                                 "index.html" % (document.describe(), spec["root"]))
            for position, _ in enumerate(spec.get("ssl", {}).get("clientCARefs", [])):
                ca = lookup(document, "Certificate", ["spec", "ssl", "clientCARefs", position,
                                                      "name"])
                if ca is not None and not ca["spec"].get("isCA"):
                    problems.add(document.position(["spec", "ssl", "clientCARefs", position]),
                                 "%s: a client CA must be a Certificate with isCA: true"
                                 % document.describe())
            if "siteId" in spec:
                if spec["siteId"] in site_ids:
                    problems.add(document.position(["spec", "siteId"]), "%s: siteId %d is also "
                                 "used by %s" % (document.describe(), spec["siteId"],
                                                 site_ids[spec["siteId"]]))
                site_ids[spec["siteId"]] = document.describe()
        elif kind == "Certificate":
            if "issuerRef" in spec:
                lookup(document, "Issuer", ["spec", "issuerRef", "name"])
            for field in ("certificateFile", "privateKeyFile", "pkcs12File",
                          "pkcs12PasswordFile"):
                if field in spec.get("source", {}):
                    if not os.path.isfile(os.path.join(directory, spec["source"][field])):
                        problems.add(document.position(["spec", "source", field]),
                                     "%s: %s does not exist" % (document.describe(),
                                                                spec["source"][field]))
        elif kind == "Issuer" and "ca" in spec:
            ca = lookup(document, "Certificate", ["spec", "ca", "certificateRef", "name"])
            if ca is not None and not ca["spec"].get("isCA"):
                problems.add(document.position(["spec", "ca"]), "%s: the CA Certificate must "
                             "have isCA: true" % document.describe())
    check_bindings(objects, lookup, problems, examples)


def binding_endpoint(spec):
    """(address, port, hostName) of a Binding spec, with the defaults applied."""
    if "bindingInformation" in spec:
        address, port, host = spec["bindingInformation"].rsplit(":", 2)
        return address.strip("[]"), int(port), host
    default_port = 443 if spec["protocol"] == "https" else 80
    return spec.get("address", "*"), spec.get("port", default_port), spec.get("hostName", "")


def host_covered(host, names):
    """Whether a certificate with these dnsNames is valid for host (one-label wildcards)."""
    host = host.lower()
    for name in (name.lower() for name in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def check_bindings(objects, lookup, problems, examples):
    endpoints = {}
    for document, _ in objects:
        if document.data["kind"] != "Binding":
            continue
        spec = document.data["spec"]
        address, port, host = binding_endpoint(spec)
        where = document.position(["spec"])
        # The examples run with `make run` as any user: loopback only, no privileged port.
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            loopback = False
        if examples and not loopback:
            problems.add(where, "%s: examples must bind a loopback address, got %r"
                         % (document.describe(), address))
        if examples and port < 1024:
            problems.add(where, "%s: examples must use a port >= 1024, got %d"
                         % (document.describe(), port))
        key = (address, port, host.lower())
        if key in endpoints:
            problems.add(where, "%s claims %s:%d host %r, as %s does"
                         % (document.describe(), address, port, host, endpoints[key]))
        endpoints[key] = document.describe()
        lookup(document, "Site", ["spec", "siteRef", "name"])
        if spec["protocol"] == "https":
            certificate = lookup(document, "Certificate", ["spec", "certificateRef", "name"])
            if certificate is not None and host and "source" not in certificate["spec"]:
                if not host_covered(host, certificate["spec"].get("dnsNames", [])):
                    problems.add(where, "%s: hostName %s is not in the dnsNames of Certificate %s"
                                 % (document.describe(), host,
                                    certificate["metadata"]["name"]))


# ----------------------------------------------------------------------------------------------
# invalid: tests/manifests/invalid/*.yaml marked "# schema: reject"

SCHEMA_MARKER = re.compile(r"^#\s*schema:\s*(\S+)\s*$")
EXPECT_MARKER = re.compile(r"^#\s*expect:\s*(.*)$")


def check_invalid(args):
    directory = os.path.join(args.source_dir, "tests", "manifests", "invalid")
    paths = sorted(glob.glob(os.path.join(directory, "*.yaml")) +
                   glob.glob(os.path.join(directory, "*.yml")))
    if not paths:
        print("checked 0 invalid manifest(s): %s has none yet"
              % os.path.relpath(directory, args.source_dir))
        return 0
    validator = crd_schema.SchemaValidator(args.source_dir)
    problems = Problems()
    marked = also_rejected = 0
    for path in paths:
        shown = os.path.relpath(path, args.source_dir)
        with open(path, "rb") as stream:
            header = leading_comments(stream.read().decode("utf-8", "replace"))
        expect = [m.group(1) for m in map(EXPECT_MARKER.match, header) if m]
        verdicts = [m.group(1) for m in map(SCHEMA_MARKER.match, header) if m]
        if not expect:
            problems.add(shown, "does not start with an '# expect: ...' line")
        for verdict in verdicts:
            if verdict != "reject":
                problems.add(shown, "unknown marker '# schema: %s' (only 'reject')" % verdict)
        errors = schema_errors(validator, path, shown)
        if "reject" in verdicts:
            marked += 1
            if not errors:
                problems.add(shown, "is marked '# schema: reject' but the CRD schema accepts it "
                             "(expected: %s)" % (expect[0] if expect else "?"))
            else:
                print("%s: rejected as expected: %s" % (shown, errors[0]))
        elif errors:
            also_rejected += 1
    print("checked %d invalid manifest(s): %d marked '# schema: reject', %d more also rejected "
          "by the schema, %d left to the decoder" % (len(paths), marked, also_rejected,
                                                     len(paths) - marked - also_rejected))
    return problems.report(os.path.relpath(directory, args.source_dir))


def leading_comments(text):
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            lines.append(stripped)
        elif stripped and stripped != "---":
            break
    return lines


def schema_errors(validator, path, shown):
    """The schema's errors for a file, as lines; a file YAML cannot parse counts as rejected."""
    try:
        documents = crd_schema.load_documents(path, shown)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return ["not valid YAML: %s" % str(error).replace("\n", " ")]
    lines = []
    for document in documents:
        for position, field, message in validator.errors(document):
            subject = " ".join(filter(None, [document.describe(), field]))
            lines.append("%s: %s: %s" % (position, subject, message))
    return lines


# ----------------------------------------------------------------------------------------------
# cli: siteplane validate manifests/

def validate_binary(args):
    """The siteplane binary when it has a validate command, else None (and says why)."""
    binary = os.path.join(args.binary_dir, "siteplane")
    if not os.access(binary, os.X_OK):
        print("skipped: %s is not built" % binary)
        return None
    # `siteplane validate --help` alone proves nothing: CLI11 prints the top-level help and exits
    # 0 for an unknown subcommand followed by --help. The command must be listed.
    help_run = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    if not re.search(r"^\s+validate\b", help_run.stdout, re.MULTILINE):
        print("skipped: siteplane has no validate command yet")
        return None
    probe = subprocess.run([binary, "validate", "--help"], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        print("skipped: `siteplane validate --help` exits %d" % probe.returncode)
        return None
    return binary


def check_cli(args):
    binary = validate_binary(args)
    if binary is None:
        return SKIP
    problems = Problems()
    run = subprocess.run([binary, "validate", args.manifests], capture_output=True, text=True,
                         timeout=120)
    print(run.stdout, end="")
    print(run.stderr, end="", file=sys.stderr)
    if run.returncode != 0:
        problems.add("siteplane validate manifests/", "exit code %d" % run.returncode)
    objects = load_manifests(args, problems)
    for document, _ in objects:
        name = document.data["metadata"]["name"]
        if not re.search(r"\b%s\b" % re.escape(name), run.stdout):
            problems.add(document.position(["metadata", "name"]), "%s is not in the summary "
                         "siteplane validate printed" % document.describe())
    snippets = 0
    with tempfile.TemporaryDirectory(prefix="siteplane-snippets-") as directory:
        for readme, snippet in readme_snippets(args):
            snippets += 1
            path = os.path.join(directory, "snippet-%d.yaml" % snippets)
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(snippet)
            run = subprocess.run([binary, "validate", path], capture_output=True, text=True,
                                 timeout=60)
            if run.returncode != 0:
                problems.add(readme, "a snippet fails siteplane validate: %s"
                             % run.stderr.strip().replace(path, readme))
    print("checked %d object(s) and %d README snippet(s) through siteplane validate"
          % (len(objects), snippets))
    return problems.report("siteplane validate")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["crds", "cases", "parity", "manifests", "invalid", "cli"])
    parser.add_argument("--source-dir", default=os.environ.get("SITEPLANE_SOURCE_DIR"))
    parser.add_argument("--binary-dir", default=os.environ.get("SITEPLANE_BINARY_DIR"))
    parser.add_argument("--manifests", help="directory to check instead of the examples in "
                        "SOURCE_DIR/manifests (without their loopback-only rule)")
    args = parser.parse_args()
    if not args.source_dir:
        parser.error("--source-dir (or SITEPLANE_SOURCE_DIR) is required")
    args.examples = args.manifests is None
    args.manifests = os.path.abspath(args.manifests or os.path.join(args.source_dir, "manifests"))
    if args.check == "cli" and not args.binary_dir:
        parser.error("--binary-dir (or SITEPLANE_BINARY_DIR) is required for cli")
    checks = {"crds": check_crds, "cases": check_cases, "parity": check_parity,
              "manifests": check_manifests,
              "invalid": check_invalid, "cli": check_cli}
    return checks[args.check](args)


if __name__ == "__main__":
    sys.exit(main())
