#include "controller/api/object_codec.h"

#include <algorithm>

#include "controller/api/codec_internal.h"
#include "controller/api/validation.h"

namespace siteplane::api {
namespace codec {

std::optional<Time> readTime(ObjectReader& reader, std::string_view field) {
  auto text = reader.string(field);
  if (!text) return std::nullopt;
  auto parsed = parseTime(*text);
  if (!parsed) {
    reader.error(field, parsed.message() + ", got \"" + *text + "\"");
    return std::nullopt;
  }
  return *parsed;
}

std::optional<LocalObjectReference> readReference(ObjectReader& reader, std::string_view field,
                                                  bool required) {
  if (required && !reader.require(field)) return std::nullopt;
  auto object = reader.object(field);
  if (!object) return std::nullopt;
  LocalObjectReference out;
  if (object->require("name")) {
    if (auto name = object->string("name")) {
      if (!isDns1123Label(*name)) {
        object->error("name", std::string(kDns1123LabelRule) + ", got \"" + *name + "\"");
      }
      out.name = *name;
    }
  }
  object->finish();
  return out;
}

nlohmann::json encodeReference(const LocalObjectReference& reference) {
  return {{"name", reference.name}};
}

ObjectMeta decodeMetadata(ObjectReader& metadata) {
  ObjectMeta out;
  if (metadata.require("name")) {
    if (auto name = metadata.string("name")) {
      if (!isDns1123Label(*name)) {
        metadata.error("name", std::string(kDns1123LabelRule) + ", got \"" + *name + "\"");
      }
      out.name = *name;
    }
  }
  if (auto ns = metadata.string("namespace")) {
    if (!isDns1123Label(*ns)) {
      metadata.error("namespace", std::string(kDns1123LabelRule) + ", got \"" + *ns + "\"");
    }
    out.namespaceName = *ns;
  }
  if (auto labels = metadata.stringMap("labels")) {
    for (const auto& [key, value] : *labels) {
      auto path = metadata.pathOf("labels").key(key);
      if (!isQualifiedName(key)) {
        metadata.context().error(path,
                                 "label key must be a name of at most 63 letters, digits, '-', "
                                 "'_' or '.' with an optional DNS prefix and '/'",
                                 /*atKey=*/true);
      }
      if (!isLabelValue(value)) {
        metadata.context().error(path,
                                 "label value must be empty or at most 63 letters, digits, "
                                 "'-', '_' or '.', starting and ending with a letter or "
                                 "digit, got \"" +
                                     value + "\"");
      }
    }
    out.labels = *labels;
  }
  if (auto annotations = metadata.stringMap("annotations")) {
    for (const auto& [key, value] : *annotations) {
      if (!isQualifiedName(key)) {
        metadata.context().error(metadata.pathOf("annotations").key(key),
                                 "annotation key must be a name of at most 63 letters, digits, "
                                 "'-', '_' or '.' with an optional DNS prefix and '/'",
                                 /*atKey=*/true);
      }
    }
    out.annotations = *annotations;
  }
  if (auto generation = metadata.integer("generation")) {
    if (*generation < 0) {
      metadata.error("generation", "must not be negative, got " + std::to_string(*generation));
    } else {
      out.generation = *generation;
    }
  }
  out.resourceVersion = metadata.string("resourceVersion").value_or("");
  out.uid = metadata.string("uid").value_or("");
  out.creationTimestamp = readTime(metadata, "creationTimestamp");
  // Kubernetes ObjectMeta the API server maintains (server-side apply's field ownership) or that
  // clients round-trip from a GET. They are the API server's business: accepted here so that a
  // stored object decodes, and not part of the typed model.
  for (std::string_view serverManaged :
       {"managedFields", "finalizers", "ownerReferences", "deletionTimestamp",
        "deletionGracePeriodSeconds", "generateName", "selfLink"}) {
    (void)metadata.has(serverManaged);
  }
  return out;
}

nlohmann::json encodeMetadata(const ObjectMeta& metadata) {
  nlohmann::json out = {{"name", metadata.name}, {"namespace", metadata.namespaceName}};
  if (!metadata.labels.empty()) out["labels"] = metadata.labels;
  if (!metadata.annotations.empty()) out["annotations"] = metadata.annotations;
  if (metadata.generation) out["generation"] = metadata.generation;
  if (!metadata.resourceVersion.empty()) out["resourceVersion"] = metadata.resourceVersion;
  if (!metadata.uid.empty()) out["uid"] = metadata.uid;
  if (metadata.creationTimestamp)
    out["creationTimestamp"] = formatTime(*metadata.creationTimestamp);
  return out;
}

std::vector<Condition> decodeConditions(ObjectReader& status) {
  std::vector<Condition> out;
  status.objectList("conditions", [&](ObjectReader& item, size_t) {
    Condition condition;
    if (item.require("type")) {
      if (auto type = item.string("type")) {
        if (type->empty()) item.error("type", "must not be empty");
        condition.type = *type;
      }
    }
    if (item.require("status")) {
      if (auto text = item.enumeration("status", {"True", "False", "Unknown"})) {
        condition.status = *parseConditionStatus(*text);
      }
    }
    if (auto reason = item.string("reason")) {
      if (!reason->empty() && !isConditionReason(*reason)) {
        item.error("reason",
                   "must be CamelCase (a letter, then letters, digits, '_', ',' or "
                   "':'), got \"" +
                       *reason + "\"");
      }
      condition.reason = *reason;
    }
    condition.message = item.string("message").value_or("");
    if (item.require("lastTransitionTime")) {
      if (auto time = readTime(item, "lastTransitionTime")) condition.lastTransitionTime = *time;
    }
    if (auto generation = item.integer("observedGeneration")) {
      if (*generation < 0) {
        item.error("observedGeneration",
                   "must not be negative, got " + std::to_string(*generation));
      } else {
        condition.observedGeneration = *generation;
      }
    }
    for (const auto& earlier : out) {
      if (earlier.type == condition.type && !condition.type.empty()) {
        item.error("type", "duplicate condition type \"" + condition.type + "\"");
      }
    }
    out.push_back(std::move(condition));
  });
  return out;
}

nlohmann::json encodeConditions(const std::vector<Condition>& conditions) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& condition : conditions) {
    out.push_back({{"type", condition.type},
                   {"status", toString(condition.status)},
                   {"reason", condition.reason},
                   {"message", condition.message},
                   {"lastTransitionTime", formatTime(condition.lastTransitionTime)},
                   {"observedGeneration", condition.observedGeneration}});
  }
  return out;
}

}  // namespace codec

namespace {

// Where in the file an error points: its own node, or the closest ancestor that exists (a missing
// field is reported at the object that lacks it).
Position positionOf(const FieldError& error, const PositionMap* positions) {
  if (!positions) return {};
  FieldPath path = error.path;
  bool first = true;
  while (true) {
    auto it = positions->find(path.toPointer());
    if (it != positions->end()) return first && error.atKey ? it->second.key : it->second.value;
    if (path.empty()) return {};
    path = path.parent();
    first = false;
  }
}

template <typename T>
Object decodeKind(ObjectReader& root, ObjectMeta metadata,
                  auto(*decodeSpec)(ObjectReader&)->decltype(T::spec),
                  auto(*decodeStatus)(ObjectReader&)->decltype(T::status)) {
  T object;
  object.metadata = std::move(metadata);
  if (root.require("spec")) {
    if (auto spec = root.object("spec")) {
      object.spec = decodeSpec(*spec);
      spec->finish();
    }
  }
  if (auto status = root.object("status")) {
    object.status = decodeStatus(*status);
    status->finish();
  }
  return object;
}

// The document's kind when it is one siteplane knows ("" otherwise, with the error reported).
std::string decodeKindField(ObjectReader& root) {
  if (!root.require("kind")) return "";
  auto text = root.string("kind");
  if (!text) return "";
  if (std::find(std::begin(kKinds), std::end(kKinds), *text) != std::end(kKinds)) return *text;
  std::string message = "unknown kind \"" + *text + "\"";
  std::vector<std::string> kinds(std::begin(kKinds), std::end(kKinds));
  if (auto suggestion = closestMatch(*text, kinds)) {
    message += "; did you mean \"" + *suggestion + "\"?";
  }
  message += " (supported kinds: Binding, Certificate, Issuer, Site)";
  root.error("kind", message);
  return "";
}

// The typed object of a document that is a JSON object; errors go to `root`'s context.
std::optional<Object> decodeDocument(ObjectReader& root, std::string& kind) {
  if (root.require("apiVersion")) {
    if (auto apiVersion = root.string("apiVersion"); apiVersion && *apiVersion != kApiVersion) {
      root.error("apiVersion",
                 std::string("must be \"") + kApiVersion + "\", got \"" + *apiVersion + "\"");
    }
  }
  kind = decodeKindField(root);
  if (kind.empty()) {
    // Without a kind there is no schema to check the rest against: mark it known so that the one
    // useful error (the kind) is not buried under "unknown field" noise.
    root.get("metadata");
    root.get("spec");
    root.get("status");
    return std::nullopt;
  }
  ObjectMeta metadata;
  if (root.require("metadata")) {
    if (auto reader = root.object("metadata")) {
      metadata = codec::decodeMetadata(*reader);
      reader->finish();
    }
  }
  if (kind == Site::kKind)
    return decodeKind<Site>(root, std::move(metadata), codec::decodeSiteSpec,
                            codec::decodeSiteStatus);
  if (kind == Binding::kKind)
    return decodeKind<Binding>(root, std::move(metadata), codec::decodeBindingSpec,
                               codec::decodeBindingStatus);
  if (kind == Certificate::kKind)
    return decodeKind<Certificate>(root, std::move(metadata), codec::decodeCertificateSpec,
                                   codec::decodeCertificateStatus);
  return decodeKind<Issuer>(root, std::move(metadata), codec::decodeIssuerSpec,
                            codec::decodeIssuerStatus);
}

// metadata.name as written, even in a document with errors, so diagnostics can name the object.
std::string declaredName(const nlohmann::json& document) {
  auto metadata = document.find("metadata");
  if (metadata == document.end() || !metadata->is_object()) return "";
  auto it = metadata->find("name");
  return it != metadata->end() && it->is_string() ? it->get<std::string>() : "";
}

// Errors and diagnostics reordered together, by position, so both read top to bottom.
void sortByPosition(DecodeResult& result) {
  std::vector<size_t> order(result.errors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Position& pa = result.diagnostics[a].position;
    const Position& pb = result.diagnostics[b].position;
    if (pa.known() != pb.known()) return pa.known();
    return pa < pb;
  });
  std::vector<FieldError> errors;
  std::vector<Diagnostic> diagnostics;
  for (size_t i : order) {
    errors.push_back(result.errors[i]);
    diagnostics.push_back(result.diagnostics[i]);
  }
  result.errors = std::move(errors);
  result.diagnostics = std::move(diagnostics);
}

}  // namespace

DecodeResult decodeObject(const nlohmann::json& document, const DecodeOptions& options) {
  DecodeResult result;
  DecodeContext context(options.baseDirectory);
  std::string kind;
  std::string name;
  std::optional<Object> object;
  if (!document.is_object()) {
    context.error(FieldPath(),
                  "a document must be an object with apiVersion, kind, metadata and spec, got " +
                      jsonTypeName(document));
  } else {
    ObjectReader root(document, FieldPath(), context);
    name = declaredName(document);
    object = decodeDocument(root, kind);
    root.finish();
  }
  result.errors = context.takeErrors();
  for (const auto& error : result.errors) {
    result.diagnostics.push_back(Diagnostic{options.file, positionOf(error, options.positions),
                                            kind, name, error.path.toString(), error.message});
  }
  if (options.positions) sortByPosition(result);
  if (result.errors.empty()) result.object = std::move(object);
  return result;
}

nlohmann::json encodeObject(const Object& object) {
  nlohmann::json out = {{"apiVersion", kApiVersion}, {"kind", kindOf(object)}};
  std::visit(
      [&](const auto& typed) {
        using T = std::decay_t<decltype(typed)>;
        out["metadata"] = codec::encodeMetadata(typed.metadata);
        nlohmann::json status;
        if constexpr (std::is_same_v<T, Site>) {
          out["spec"] = codec::encodeSiteSpec(typed.spec);
          status = codec::encodeSiteStatus(typed.status);
        } else if constexpr (std::is_same_v<T, Binding>) {
          out["spec"] = codec::encodeBindingSpec(typed.spec);
          status = codec::encodeBindingStatus(typed.status);
        } else if constexpr (std::is_same_v<T, Certificate>) {
          out["spec"] = codec::encodeCertificateSpec(typed.spec);
          status = codec::encodeCertificateStatus(typed.status);
        } else {
          out["spec"] = codec::encodeIssuerSpec(typed.spec);
          status = codec::encodeIssuerStatus(typed.status);
        }
        if (!status.empty()) out["status"] = std::move(status);
      },
      object);
  return out;
}

std::vector<FieldError> validate(const Object& object) {
  return decodeObject(encodeObject(object)).errors;
}

}  // namespace siteplane::api
